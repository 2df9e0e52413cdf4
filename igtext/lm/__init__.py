"""Language models: the protocol, backends, the disk cache and the budget."""
from igtext.lm.base import (Generation, GenerationRequest, LanguageModel, Logprob,
                            LogprobRequest)

__all__ = ["Generation", "GenerationRequest", "LanguageModel", "Logprob", "LogprobRequest"]
