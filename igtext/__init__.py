"""igtext: Imitative Generalization with human-readable text hypotheses.

Importing the package is cheap: torch and transformers load only when a local model does.
"""
from igtext.api import resume, search
from igtext.config import RunConfig, load_config
from igtext.data import Example, Hypothesis, Scored, SearchResult, Task
from igtext.errors import BudgetExceeded, IgtextError, InputError, ModelError, UnsupportedError
from igtext.tasks import load_task

__version__ = "0.1.0"
__all__ = ["search", "resume", "RunConfig", "load_config", "load_task", "Example", "Hypothesis",
           "Scored", "SearchResult", "Task", "IgtextError", "InputError", "ModelError",
           "BudgetExceeded", "UnsupportedError"]
