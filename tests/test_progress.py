"""The run's progress bar moves inside a generation and estimates the time left."""
from igtext.config import RunConfig
from igtext.records import CheckpointEvent, Propose, Score
from igtext.run import _progress


def test_the_bar_moves_with_each_draft_scored_and_says_what_was_done():
    cfg = RunConfig.model_validate({"search": {"generations": 2, "population": 4,
                                               "offspring": 2, "elite": 1}})
    bar = _progress(True, cfg.search)
    on = bar.__enter__()
    try:
        task = bar.p.tasks[0]
        assert task.total == 3
        on(Propose(generation=0, id="h1", lm_calls=1))
        on(Score(generation=0, id="h1", complete=True, objective=-1.0, lm_calls=2))
        assert task.completed == 0.25                    # 1 of the population of 4
        assert task.description == ("generation 0/2: 1 proposed, 1 scored, best objective "
                                    "-1.00, 2 LM calls")
        on(CheckpointEvent(generation=0, lm_calls=3))
        assert task.completed == 1
        on(Propose(generation=1, id="h2", lm_calls=4))
        on(Score(generation=1, id="h2", complete=False, objective=-9.0, lm_calls=5))
        assert task.completed == 1                       # a partial score is not a draft done
        on(Score(generation=1, id="h2", complete=True, objective=-0.5, lm_calls=6))
        assert task.completed == 1.5 and "best objective -0.50" in task.description
        assert any(type(c).__name__ == "TimeRemainingColumn" for c in bar.p.columns)
    finally:
        bar.__exit__(None, None, None)
