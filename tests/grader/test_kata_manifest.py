"""kata.yaml is checked on load, and a bad one names the file, the field and the rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from grader.errors import BadInput, KataError
from grader.kata import kata_ids, load_kata, load_kata_from
from tests.conftest import FIXTURE_KATAS


def copy_toy(tmp_path: Path) -> Path:
    folder = tmp_path / "top-k-indices"
    shutil.copytree(FIXTURE_KATAS / "top-k-indices", folder)
    return folder


def edit_manifest(folder: Path, **changes: object) -> None:
    path = folder / "kata.yaml"
    data = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data))


def test_the_fixture_kata_loads(toy_kata_path: Path = FIXTURE_KATAS / "top-k-indices") -> None:
    kata = load_kata_from(toy_kata_path)
    assert kata.id == "top-k-indices"
    assert kata.entrypoints == ("top_k_indices",)
    assert kata.speed is not None and kata.speed.max_ratio == 4.0


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    folder = copy_toy(tmp_path)
    edit_manifest(folder, entrypoints=None)
    with pytest.raises(
        KataError, match=r"kata\.yaml: field `\(top level\)`: 'entrypoints' is a required"
    ):
        load_kata_from(folder)


def test_a_wrong_type_names_the_nested_field(tmp_path: Path) -> None:
    folder = copy_toy(tmp_path)
    edit_manifest(folder, tests={"timeout_s": "ten", "deadline_s": 60})
    with pytest.raises(KataError, match=r"field `tests\.timeout_s`: 'ten' is not of type 'number'"):
        load_kata_from(folder)


def test_difficulty_out_of_range_is_refused(tmp_path: Path) -> None:
    folder = copy_toy(tmp_path)
    edit_manifest(folder, difficulty=7)
    with pytest.raises(KataError, match=r"field `difficulty`: 7 is greater than the maximum of 5"):
        load_kata_from(folder)


def test_weights_must_sum_to_100(tmp_path: Path) -> None:
    folder = copy_toy(tmp_path)
    edit_manifest(folder, weights={"tests": 50, "types": 10, "memory": 10, "speed": 20})
    with pytest.raises(
        KataError, match=r"field `weights`: expected weights summing to 100, got 90"
    ):
        load_kata_from(folder)


def test_a_weight_without_its_section_is_refused(tmp_path: Path) -> None:
    folder = copy_toy(tmp_path)
    edit_manifest(folder, memory=None)
    with pytest.raises(KataError, match=r"field `weights\.memory`"):
        load_kata_from(folder)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    folder = copy_toy(tmp_path)
    (folder / "kata.yaml").write_text("id: top-k-indices\ntitle: [unclosed\n")
    with pytest.raises(KataError, match=r"kata\.yaml: line \d+: invalid YAML"):
        load_kata_from(folder)


def test_id_must_match_the_folder(tmp_path: Path) -> None:
    folder = copy_toy(tmp_path)
    edit_manifest(folder, id="other-name")
    with pytest.raises(KataError, match=r"field `id`: expected 'top-k-indices'"):
        load_kata_from(folder)


def test_an_unknown_kata_suggests_the_closest_id(toy_katas_dir: Path) -> None:
    assert kata_ids() == ["top-k-indices"]
    with pytest.raises(
        BadInput, match=r"unknown kata 'top-k-indice'\. Did you mean 'top-k-indices'\?"
    ):
        load_kata("top-k-indice")
