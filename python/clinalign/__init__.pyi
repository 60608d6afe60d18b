from ._native import ClinAlignError as ClinAlignError
from ._native import JudgeError as JudgeError
from ._native import PrincipleSetError as PrincipleSetError
from ._native import RowError as RowError
from ._native import __version__ as __version__
from .engine import Engine as Engine
from .engine import Watch as Watch
from .engine import score as score

__all__ = ["Engine", "Watch", "score", "ClinAlignError", "RowError", "PrincipleSetError", "JudgeError", "__version__"]
