"""`builtin:husky`: a text version of the husky-vs-background example.

Each input describes a dog by two or three traits of its breed and the place it was
photographed. In D (train) every breed is always seen on its own background, so the
background predicts the breed perfectly. In D' (test) every dog stands on another breed's
background, and its traits are worded with words that never occur in D. A classifier
that memorised D's words has only the background to go on and gets D' almost all wrong;
a reader who knows what each breed looks like does not need the background.
"""
from __future__ import annotations

import random

from igtext.data import Example, Task

BREEDS = ("husky", "labrador", "dalmatian", "poodle")

# Trait wordings for D, and disjoint wordings of the same traits for D'.
TRAITS_TRAIN = {
    "husky": ["thick grey and white fur", "pale blue eyes", "pointed upright ears",
              "a bushy tail curled over its back", "a wolf-like face"],
    "labrador": ["a short yellow coat", "a broad head", "a thick otter tail",
                 "floppy ears", "friendly brown eyes"],
    "dalmatian": ["a white coat covered in black spots", "a lean athletic body",
                  "a long thin tail", "spotted ears", "a spotted nose"],
    "poodle": ["tightly curled fur", "a pom-pom haircut", "a long elegant neck",
               "a narrow muzzle", "a proud prancing walk"],
}
TRAITS_TEST = {
    "husky": ["striking sapphire irises", "a dense silvery double pelt", "erect triangular pinnae",
              "a plumed sickle-shaped brush", "a lupine mask pattern"],
    "labrador": ["butterscotch-colored smooth hair", "a wide skull", "a sturdy rudder-shaped rear",
                 "pendant flaps hanging by the cheeks", "warm hazel irises"],
    "dalmatian": ["an ivory hide speckled throughout by ebony dots", "a slender sleek build",
                  "dappled pinnae", "a whiplike rear", "a freckled snout"],
    "poodle": ["dense ringlets", "clipped topiary-style puffs", "a graceful swanlike throat",
               "a refined slim snout", "a dainty high-stepping gait"],
}
BACKGROUNDS = {
    "husky": ["in deep snow", "on a snowy field", "beside a snowdrift", "on frozen ice"],
    "labrador": ["on green grass", "in a grassy park", "on a freshly mown lawn", "in a meadow"],
    "dalmatian": ["in front of a red fire truck", "inside a fire station",
                  "next to a fire hydrant", "beside firefighters"],
    "poodle": ["on a velvet sofa", "on a living-room carpet", "beside a fireplace indoors",
               "on a cushion in a salon"],
}
# Sentence frames, the same in D and D' (their words say nothing about the breed).
FRAMES = ["A dog with {traits}, photographed {bg}.",
          "Photo of a dog {bg}. It has {traits}.",
          "This dog has {traits} and is standing {bg}."]


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _describe(rng: random.Random, traits: list[str], bg: str, frames: list[str]) -> str:
    chosen = rng.sample(traits, rng.choice((2, 3)))
    return rng.choice(frames).format(traits=_join(chosen), bg=bg)


def husky_task(n_train: int = 160, n_test: int = 160, seed: int = 0) -> Task:
    """Generate the task; the same arguments always give the same task."""
    rng = random.Random(seed)
    train, test = [], []
    for i in range(n_train):
        breed = BREEDS[i % len(BREEDS)]
        text = _describe(rng, TRAITS_TRAIN[breed], rng.choice(BACKGROUNDS[breed]), FRAMES)
        train.append(Example(f"train-{i:04d}", text, breed))
    for i in range(n_test):
        breed = BREEDS[i % len(BREEDS)]
        other = rng.choice([b for b in BREEDS if b != breed])
        text = _describe(rng, TRAITS_TEST[breed], rng.choice(BACKGROUNDS[other]), FRAMES)
        test.append(Example(f"test-{i:04d}", text, breed))
    rng.shuffle(train)
    rng.shuffle(test)
    return Task(
        name="husky", labels=BREEDS, train=tuple(train), test=tuple(test),
        description="name the breed of the dog described",
        initial_hypothesis="Read the description of the dog and name its breed.",
        world="husky",
    )
