"""The committed schemas are what other teams read: they must match the models."""

from pathlib import Path

from contracts import export

COMMITTED = Path(__file__).resolve().parents[1] / "schemas"


def test_committed_schemas_match_the_models():
    problems = export.differences(export.render(), export.read(COMMITTED))
    assert not problems, (
        "contracts/schemas is out of date with the models; "
        f"{export.REGENERATE} and commit the result:\n  " + "\n  ".join(problems)
    )


def test_differences_names_changed_missing_and_stale_files():
    expected = {"a.v1.json": "{}\n", "b.v1.json": "{}\n", "asyncapi.json": "{}\n"}
    actual = {"a.v1.json": "{}\n", "b.v1.json": '{"x": 1}\n', "old.v1.json": "{}\n"}

    assert export.differences(expected, actual) == [
        "asyncapi.json: missing",
        "b.v1.json: differs from the models",
        "old.v1.json: no model produces it (stale)",
    ]


def test_rendering_is_deterministic_and_ends_with_a_newline():
    first, second = export.render(), export.render()

    assert first == second
    assert all(text.endswith("}\n") for text in first.values())
