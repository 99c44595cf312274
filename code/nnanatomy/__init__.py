"""nnanatomy — the code of the Neural Network Anatomy course.

Layers (imports flow downward, never upward)::

    explore  train  plots  exercises  display  judge     used by the notebooks
    models   <-   scratch                          PyTorch modules; NumPy reference maths
    data     runtime                               datasets generated offline; device and seeds

Import the part you need: ``from nnanatomy import runtime, scratch, models``.
"""

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "data",
    "display",
    "exercises",
    "explore",
    "judge",
    "models",
    "plots",
    "runtime",
    "scratch",
    "train",
]
