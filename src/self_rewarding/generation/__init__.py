"""Text generation behind one interface, ``Generator.generate(prompts, sampling)``.

Backends import their heavy libraries lazily: ``hf_backend`` (transformers, CPU or GPU)
and a ``FakeGenerator`` for tests of the layers above.
"""

from self_rewarding.generation.base import Generator
from self_rewarding.generation.fake import FakeGenerator

__all__ = ["FakeGenerator", "Generator"]
