"""Training through TRL: supervised fine-tuning (SFT) and, later, DPO."""
