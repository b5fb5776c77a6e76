"""Routing CSV files: good ones load, bad ones get an error naming the file, the line and the fix."""
import pytest

from router.data import read_examples
from router.errors import DataError

QUEUES = ["general", "billing", "delivery"]


def write(tmp_path, content: bytes | str, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_reads_quoted_multiline_rows_with_their_start_line(tmp_path):
    path = write(tmp_path, 'text,language,queue\nhello,en,general\n"Subject: invoice\n\nplease, send it",en,billing\nwhere,en,delivery\n')
    examples = read_examples(path, QUEUES)
    assert [(e.queue, e.line) for e in examples] == [("general", 2), ("billing", 3), ("delivery", 6)]
    assert examples[1].text == "Subject: invoice\n\nplease, send it"


def test_byte_order_mark_and_blank_lines_are_accepted(tmp_path):
    path = write(tmp_path, "\ufefftext,language,queue\r\nhi,en,general\r\n\r\n")
    assert len(read_examples(path, QUEUES)) == 1


@pytest.mark.parametrize(("content", "expected"), [
    ("", "the file is empty"),
    ("text,lang,queue\nhi,en,general\n", "line 1: the header is 'text,lang,queue' but must be exactly 'text,language,queue'"),
    ("text,language,queue\n", "no rows follow"),
    ("text,language,queue\nhi,en,general\nbye,en,warehouse\n", "line 3: unknown queue 'warehouse'; use one of ['billing', 'delivery', 'general']"),
    ("text,language,queue\nhi, there,en,general\n", "line 2: expected 3 fields"),
    ("text,language,queue\n,en,general\n", "line 2: the text is empty"),
    ("text,language,queue\nhi,en,\n", "line 2: the queue is empty"),
])
def test_malformed_files(tmp_path, content, expected):
    path = write(tmp_path, content)
    with pytest.raises(DataError) as error:
        read_examples(path, QUEUES)
    assert str(path) in str(error.value) and expected in str(error.value)


def test_bad_encoding_names_the_line(tmp_path):
    path = write(tmp_path, "text,language,queue\nhi,en,general\nsz\xe9p,hu,general\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"line 3: not valid UTF-8 \(byte 0xe9\); save the file as UTF-8"):
        read_examples(path, QUEUES)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_examples(tmp_path / "nope.csv")


def test_the_shipped_training_file_is_valid():
    from router.store import SHIPPED_EXAMPLES

    examples = read_examples(SHIPPED_EXAMPLES, ["general", "billing", "delivery", "returns", "tech", "sales", "complaints"])
    languages = {e.language for e in examples}
    assert {"en", "ru", "hu", "lv", "de", "uk"} <= languages
    assert min(sum(e.queue == q for e in examples) for q in {e.queue for e in examples}) >= 60
