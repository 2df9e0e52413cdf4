"""Search strategies over hypotheses: evolutionary and beam, on one shared context."""
from igtext.search.base import SearchContext, SearchState, Strategy, run_search
from igtext.search.beam import BeamSearch
from igtext.search.evolution import EvolutionSearch

STRATEGIES = {"evolution": EvolutionSearch, "beam": BeamSearch}

__all__ = ["SearchContext", "SearchState", "Strategy", "run_search", "BeamSearch",
           "EvolutionSearch", "STRATEGIES"]
