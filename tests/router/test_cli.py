"""`helpline router train|eval` in a subprocess, as an admin runs them (no database involved)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROWS = [
    ("Where is my parcel? The tracking has not moved for days", "en", "delivery"),
    ("Меня дважды списали деньги за заказ", "ru", "billing"),
    ("Szeretném visszaküldeni a hibás porszívót", "hu", "returns"),
    ("Nevaru ielogoties, parole neder", "lv", "tech"),
    ("Ist das Sofa in Grau vorrätig?", "de", "sales"),
    ("Вимагаю керівника, це вже третя скарга", "uk", "complaints"),
    ("Hello!", "en", "general"),
]


def helpline(*args, cwd: Path):
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2])})


@pytest.fixture
def labelled(tmp_path):
    import csv

    path = tmp_path / "labelled.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "language", "queue"])
        writer.writerows(ROWS)
    return path


def test_eval_json_has_the_documented_keys(tmp_path, labelled):
    result = helpline("router", "eval", "--data", str(labelled), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"accuracy", "macro_f1", "per_queue", "confusion"} <= set(report)
    assert report["total"] == len(ROWS)
    assert set(report["per_queue"]) == {"general", "billing", "delivery", "returns", "tech", "sales", "complaints"}
    assert sum(sum(row.values()) for row in report["confusion"].values()) == len(ROWS)
    assert not (tmp_path / "var").exists()  # no database, no files


def test_eval_prints_readable_tables(tmp_path, labelled):
    result = helpline("router", "eval", "--data", str(labelled), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for part in ("accuracy:", "macro-F1:", "precision  recall", "confusion matrix", "accuracy per language", "time per message"):
        assert part in result.stdout


def test_train_writes_a_model_that_eval_uses(tmp_path, labelled):
    from router.store import SHIPPED_EXAMPLES

    out = tmp_path / "models" / "m.joblib"
    result = helpline("router", "train", "--data", str(SHIPPED_EXAMPLES), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "extracting character and word n-grams" in result.stderr
    assert "trained on" in result.stdout and "per queue: " in result.stdout and "languages: " in result.stdout
    assert f"model written to {out}" in result.stdout
    assert out.exists() and out.with_suffix(".json").exists()
    result = helpline("router", "eval", "--data", str(labelled), "--model", str(out), "--json", cwd=tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout)["model"] == str(out)


@pytest.mark.parametrize(("content", "message"), [
    (b"text,queue\nhi,general\n", "line 1: the header is"),
    (b"text,language,queue\nhi,en,general\nyo,en,nowhere\n", "line 3: unknown queue 'nowhere'"),
    (b"", "the file is empty"),
    (b"text,language,queue\n\xff\xfe,en,general\n", "line 2: not valid UTF-8"),
])
@pytest.mark.parametrize("command", ["train", "eval"])
def test_bad_csv_gets_a_clear_error_without_traceback(tmp_path, command, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = helpline("router", command, "--data", str(path), "--out" if command == "train" else "--json",
                      *([str(tmp_path / "m.joblib")] if command == "train" else []), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"helpline: {path}, " in result.stderr or f"helpline: {path}: " in result.stderr
    assert message in result.stderr


def test_missing_csv(tmp_path):
    result = helpline("router", "eval", "--data", str(tmp_path / "none.csv"), cwd=tmp_path)
    assert result.returncode == 2 and "no such file" in result.stderr and "Traceback" not in result.stderr
