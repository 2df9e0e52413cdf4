"""The follower's data (what the training worlds' simulated people say) and a tiny fit."""
import json

from igtext.worlds import splits
from igtext.worlds.imitation import comparison_data, label_data


def test_label_data_reads_only_the_worlds_given_and_follows_z():
    train = splits.train_worlds()
    data = label_data(train, 600, seed=3)
    held = set(splits.split_domains("held_out")) | set(splits.split_domains("validation"))
    assert len(data) == 600 and not {r.domain for r in data} & held
    assert {r.kind for r in data} >= {"thing", "context", "wrong", "paraphrased", "per_label"}
    guesses = sum(r.answer is None for r in data) / len(data)
    assert 0.1 < guesses < 0.4                     # mostly inputs z speaks about
    # under a context rule the person labels D' inputs by their (moved) context: the
    # label it gives is often not the class whose traits x shows
    from igtext.worlds import load_world
    from igtext.worlds.reading import Reader
    ctx = [r for r in data if r.kind == "context" and r.answer]
    assert ctx
    off = 0
    for r in ctx:
        reader = Reader(load_world(r.domain))
        traits = {c.label for c in reader.present(r.x) if c.kind == "trait"}
        off += r.answer not in traits
    assert off > 0.2 * len(ctx)


def test_cross_share_pairs_z_with_inputs_worded_unlike_it():
    worlds = splits.train_worlds()[:3]
    mixed = label_data(worlds, 240, seed=2)
    crossed = label_data(worlds, 240, seed=2, cross_share=1.0)
    assert 0.3 < sum(r.cross_worded for r in mixed) / len(mixed) < 0.7
    assert all(r.cross_worded for r in crossed)
    # "unlike": no trait phrase of x is in z word for word (D's wordings against the rest)
    by_domain = {w.domain: w for w in worlds}

    def shares_a_phrase(r):
        return any(p in r.z and p in r.x for traits in by_domain[r.domain].traits.values()
                   for t in traits for p in t)
    assert not any(shares_a_phrase(r) for r in crossed)
    assert sum(shares_a_phrase(r) for r in mixed) > 0.1 * len(mixed)


def test_comparison_data_prefers_thing_rules():
    data = comparison_data(splits.train_worlds(), 300, seed=1)
    thing_vs_ctx = [c.p_a for c in data if c.kinds == ("thing", "context")]
    ctx_vs_thing = [c.p_a for c in data if c.kinds == ("context", "thing")]
    assert all(p > 0.5 for p in thing_vs_ctx) and all(p < 0.5 for p in ctx_vs_thing)


def test_a_tiny_follower_fit_records_its_provenance(tmp_path, tiny_dir):
    from igtext.training.follower import fit_follower
    from igtext.training.lora import LoraSettings
    out = tmp_path / "follower"
    rep = fit_follower(out, LoraSettings(epochs=1, rank=4, max_length=256), tiny_dir,
                       f"hf:{tiny_dir}", n=16, seed=0, progress=False, calibrate_n=12)
    assert rep["train_judgments"] == 16 and rep["loss"] == "label-set cross-entropy"
    meta = json.loads((out / "igtext_adapter.json").read_text())
    # calibrated on the validation worlds' people: the chosen point is no worse than the
    # bare reading (which is on the grid), and a run's M_L reads it from the adapter
    cal = meta["calibration"]
    assert rep["calibration"] == cal and cal["judgments"] == 12
    assert cal["domains"] == [w.domain for w in splits.validation_worlds()]
    assert cal["cross_entropy"] <= cal["bare_cross_entropy"]
    from igtext import components
    from igtext.rulewise import Calibration
    assert components.follower_calibration(out) == Calibration(cal["none_bias"], cal["strength"])
    prov = meta["provenance"]
    assert meta["kind"] == "likelihood" and len(meta["data_sha256"]) == 64
    assert meta["reading"] == rep["reading"] == "rules"
    assert prov["domains"] == [w.domain for w in splits.train_worlds()] and prov["n"] == 16
    assert "dogs" not in prov["domains"]
    # the adapter loads as M_L behind the usual meter
    from igtext.lm.registry import load_model
    base = components.metered(load_model(f"hf:{tiny_dir}"), None)
    assert "+likelihood:" in components.adapter_lm(base, "likelihood", out, f"hf:{tiny_dir}").name
    # shipped as the package ships it: float16 weights, the same metadata and scores
    from safetensors.torch import load_file

    from igtext.training.lora import ship
    (out / "README.md").write_text("a model card")
    (out / "checkpoints" / "epoch-1").mkdir(parents=True)      # a proposer fit's resume state
    shipped = ship(out, tmp_path / "shipped")
    assert not (tmp_path / "shipped" / "README.md").exists()
    assert not (tmp_path / "shipped" / "checkpoints").exists()
    assert shipped["shipped_as"].startswith("float16") and shipped["provenance"] == prov
    weights = load_file(str(tmp_path / "shipped" / "adapter_model.safetensors"))
    assert {str(v.dtype) for v in weights.values()} == {"torch.float16"}
    lm = components.adapter_lm(base, "likelihood", tmp_path / "shipped", f"hf:{tiny_dir}")
    full = components.adapter_lm(base, "likelihood", out, f"hf:{tiny_dir}")
    from igtext.lm.base import LogprobRequest
    req = [LogprobRequest("A dog in snow. Answer:", " husky")]
    assert abs(lm.logprob(req)[0].total - full.logprob(req)[0].total) < 0.05
    # a second fit continues this one on fresh judgments, and says what it continued
    more = tmp_path / "more"
    rep = fit_follower(more, LoraSettings(epochs=1, rank=8, max_length=256), tiny_dir,
                       f"hf:{tiny_dir}", n=8, seed=1, progress=False, calibrate_n=0, init=out,
                       cross_share=1.0)
    again = json.loads((more / "igtext_adapter.json").read_text())
    assert "calibration" not in rep and "calibration" not in again
    assert again["provenance"]["cross_share"] == 1.0
    assert again["provenance"]["seed"] == 1
    assert again["provenance"]["continued"]["provenance"] == prov
    assert json.loads((more / "adapter_config.json").read_text())["r"] == 4   # the init's rank


def test_a_tiny_world_prior_fit_reports_held_out_domains(tmp_path, tiny_dir):
    from igtext.training.follower import fit_world_prior
    from igtext.training.lora import LoraSettings
    out = tmp_path / "prior"
    rep = fit_world_prior(out, LoraSettings(epochs=1, rank=4, max_length=64), tiny_dir,
                          f"hf:{tiny_dir}", n=16, seed=0, heldout=20, progress=False)
    assert 0.0 <= rep["heldout_accuracy"] <= 1.0 and rep["heldout_domains"] >= 6
    meta = json.loads((out / "igtext_adapter.json").read_text())
    assert meta["kind"] == "prior" and "dogs" not in meta["provenance"]["domains"]
    # several people a comparison: the share of their votes is the target
    voted = fit_world_prior(tmp_path / "voted", LoraSettings(epochs=1, rank=4, max_length=64),
                            tiny_dir, f"hf:{tiny_dir}", n=16, seed=0, heldout=20,
                            progress=False, votes=5)
    assert voted["train_pairs"] == 16 and voted["final_loss"] > 0
    again = json.loads((tmp_path / "voted" / "igtext_adapter.json").read_text())
    assert again["provenance"]["votes"] == 5 and again["data_sha256"] != meta["data_sha256"]
