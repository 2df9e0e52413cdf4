"""HypoBench (Liu et al. 2025): real classification tasks with an in-distribution test split
and an out-of-distribution one, and synthetic tasks with known rules.

`hypobench_task(name)` gives D = the train split and D' = the OOD split (`shift="ind"`: the
in-distribution test split instead). gptgc_detect and llamagc_detect are each other's OOD
set (stories by another generator). Synthetic tasks are every folder under
`synthetic_datasets/` with a metadata.json and `*_train.json`/`*_test.json`, named by their
path there (`shoe`, `shoe_two_level/hard`, `admission/level_3/depth_3`, ...); they have no
OOD split, so D' is their test split. Inputs with several features are written one feature
per line ("First headline: ..."). Labels are the values found in the data (the `label`
list, or the one column named after the task's files, such as `admission_depth_2`).
"""
from __future__ import annotations

import os
import random
from pathlib import Path

from igtext.data import Example, Task
from igtext.errors import InputError
from igtext.tasks.datadir import data_dir, read_json

# name -> (folder, train file, IND test file, OOD file (folder-relative to real_datasets))
REAL = {
    "deceptive_reviews": ("deceptive_reviews", "hotel_reviews_train.json",
                          "hotel_reviews_test.json", "deceptive_reviews/ood_hotel_reviews_all.json"),
    "headline_binary": ("headline_binary", "headline_binary_train.json",
                        "headline_binary_test.json", "headline_binary/headline_binary_ood.json"),
    "retweet": ("retweet", "retweet_train.json", "retweet_test.json", "retweet/retweet_ood.json"),
    "gptgc_detect": ("gptgc_detect", "WP_aigc_detect_train.json", "WP_aigc_detect_test.json",
                     "llamagc_detect/WP_aigc_detect_test.json"),
    "llamagc_detect": ("llamagc_detect", "WP_aigc_detect_train.json",
                       "WP_aigc_detect_test.json", "gptgc_detect/WP_aigc_detect_test.json"),
}


def synthetic_tasks(root: str | os.PathLike | None = None) -> dict[str, Path]:
    """name -> folder of every synthetic task in the copy (none if the copy is absent)."""
    base = data_dir("hypobench", root) / "synthetic_datasets"
    if not base.is_dir():
        return {}
    return {meta.parent.relative_to(base).as_posix(): meta.parent
            for meta in sorted(base.rglob("metadata.json"))
            if any(meta.parent.glob("*_train.json")) and any(meta.parent.glob("*_test.json"))}


def _load(path: Path) -> dict:
    data = read_json(path, "no such file (is the HypoBench copy complete?)")
    stem = path.name.rsplit("_", 1)[0]          # admission_train.json -> admission
    if isinstance(data, dict) and "label" not in data:  # synthetic: the label column is named
        others = [k for k, v in data.items()            # after the task (admission_depth_2)
                  if isinstance(v, list) and k.startswith(stem + "_")]
        if len(others) == 1:
            data["label"] = data.pop(others[0])
    if not isinstance(data, dict) or not isinstance(data.get("label"), list):
        raise InputError("expected a JSON object of parallel lists with a 'label' list",
                         file=str(path), field="label")
    return data


def _restates_label(values: list, labels: list) -> bool:
    """A column that spells out each row's label ("the color of shoes is black"): a leak,
    not a feature."""
    if len(values) != len(labels) or len(set(labels)) < 2:
        return False
    rest = {str(v).lower().replace(str(y).strip().lower(), "\0") for v, y in zip(values, labels)}
    return len(rest) == 1 and "\0" in next(iter(rest))


def _examples(path: Path, features: dict, prefix: str, synthetic: bool = False) -> list[Example]:
    """One example per row. Real tasks read the metadata's features (other columns, such as
    a story's prompt, are left out); synthetic ones every column but the label (their
    metadata does not always name the columns), less any column that spells out the label.
    Several features, or any synthetic one, are written one per line as "description:
    value"."""
    data = _load(path)
    names = ([f for f in features if f in data] if not synthetic else []) or \
        [k for k in data if not k.startswith("label") and isinstance(data[k], list)
         and not _restates_label(data[k], data["label"])]
    if not names:
        raise InputError(f"none of the features {list(features)} is in the file",
                         file=str(path), field="features")
    for f in names:
        if len(data[f]) != len(data["label"]):
            raise InputError(f"{len(data[f])} values but {len(data['label'])} labels",
                             file=str(path), field=f)
    out = []
    for i, label in enumerate(data["label"]):
        if len(names) == 1 and not synthetic:
            text = str(data[names[0]][i])
        else:
            text = "\n".join(f"{features.get(f, {}).get('description', f)}: {data[f][i]}"
                             for f in names)
        out.append(Example(f"{prefix}-{i:04d}", text.strip(), str(label).strip()))
    return out


def task_names(root: str | os.PathLike | None = None) -> list[str]:
    return sorted(REAL) + sorted(synthetic_tasks(root))


def known_hypotheses(name: str, root: str | os.PathLike | None = None) -> list[str]:
    """Hypotheses from the literature (real tasks) or the ground truth (synthetic)."""
    folder = _folder(name, root)
    meta = read_json(folder / "metadata.json")
    got = meta.get("ground_truth_hypotheses") or meta.get("known_hypotheses") or []
    if isinstance(got, str):
        import ast
        try:
            got = ast.literal_eval(got)
        except (ValueError, SyntaxError):
            got = [got]
    return [str(h) for h in got]


def _folder(name: str, root) -> Path:
    base = data_dir("hypobench", root)
    if name in REAL:
        return base / "real_datasets" / REAL[name][0]
    synthetic = synthetic_tasks(root)
    if name in synthetic:
        return synthetic[name]
    raise InputError(f"unknown HypoBench task {name!r}; known: {', '.join(task_names(root))}",
                     field="task")


def hypobench_task(name: str, root: str | os.PathLike | None = None, shift: str = "ood",
                   n_train: int | None = None, n_test: int | None = None,
                   seed: int = 0) -> Task:
    """D: the train split (a seeded sample of `n_train`); D': the OOD split, or the IND
    test split with `shift="ind"` (a seeded sample of `n_test`). Synthetic tasks have no
    OOD split: D' is their test split."""
    if shift not in ("ood", "ind"):
        raise InputError(f"unknown shift {shift!r} (ood or ind)", field="shift")
    folder = _folder(name, root)
    meta = read_json(folder / "metadata.json")
    features = meta.get("features") or {}
    if name in REAL:
        _, train_f, ind_f, ood_f = REAL[name]
        test_path = (folder.parent / ood_f) if shift == "ood" else folder / ind_f
        train_path = folder / train_f
    else:
        train_path = next(folder.glob("*_train.json"))
        test_path = next(folder.glob("*_test.json"))
    synthetic = name not in REAL
    train = _examples(train_path, features, "train", synthetic)
    test = _examples(test_path, features, "test", synthetic)
    rng = random.Random(seed)
    if n_train and n_train < len(train):
        train = rng.sample(train, n_train)
    if n_test and n_test < len(test):
        test = rng.sample(test, n_test)
    labels = tuple(sorted({e.label for e in train}))
    unknown = {e.label for e in test} - set(labels)
    if unknown:
        raise InputError(f"labels {sorted(unknown)} occur in D' but not in D",
                         file=str(test_path), field="label")
    return Task(name=f"hypobench:{name}" + ("" if shift == "ood" else "@ind"),
                train=tuple(train), test=tuple(test), labels=labels,
                description=str(meta.get("task_description", "")))
