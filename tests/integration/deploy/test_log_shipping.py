"""deploy/promtail and deploy/vector, checked against REAL lines written by our log sink.

Neither Promtail nor Vector can be installed here (not in Debian 12, not on PyPI), so what
their configs would do is re-enacted with the same languages where we can: Promtail's `json`
stage expressions are JMESPath (applied with the `jmespath` library), its `timestamp` format is a
Go layout (checked against our `ts`); Vector's VRL is kept to parse_json + a timestamp, and every
field it or its Loki labels read must be in our records. A renamed log field breaks these tests.
What is left to the host (`promtail -dry-run`, `vector validate`): see docs/deploy.md.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jmespath
import pytest
import yaml

from gridkeeper.logs import LogSink, SinkConfig

pytestmark = pytest.mark.integration
DEPLOY = Path(__file__).resolve().parents[3] / "deploy"

# RFC 3339 with a fraction and a zone, as Go's time.RFC3339Nano and chrono's `%+` parse it.
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)")
# The timestamp layouts the configs may use, each with what it accepts.
GO_LAYOUTS = {"RFC3339": RFC3339, "RFC3339Nano": RFC3339}
CHRONO_FORMATS = {"%+": RFC3339}

LINES = [
    "grid started: 11 levels 90..110",  # plain text
    "ERROR: order rejected: price band",  # a level word
    json.dumps({"level": "warning", "event": "fill", "price": "101.5", "timestamp": "x"}),
    "Traceback (most recent call last):",
    '  File "bot.py", line 1, in <module>',
    "ValueError: bad price",
]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]], str]:
    """(log_dir, the structured records, the raw lines) our sink wrote for LINES."""
    log_dir = tmp_path_factory.mktemp("logs")
    sink = LogSink(SinkConfig(log_dir=log_dir))
    sink.start()
    for i, line in enumerate(LINES):
        sink.submit("bp_sol", "stderr" if i % 2 else "stdout", line + "\n")
    sink.close()
    raw = (log_dir / "bp_sol" / "bp_sol_structured.log").read_text()
    records = [json.loads(x) for x in raw.splitlines()]
    assert len(records) >= 4  # the traceback is one record
    return log_dir, records, raw


def _expand(text: str, log_dir: Path) -> str:
    return text.replace("${GRIDKEEPER_LOG_DIR}", str(log_dir))


def test_promtail_pipeline_reads_our_fields(
    written: tuple[Path, list[dict[str, Any]], str],
) -> None:
    log_dir, records, _ = written
    config = yaml.safe_load((DEPLOY / "promtail" / "promtail.yaml").read_text())
    (job,) = config["scrape_configs"]
    # __path__ finds the file our sink wrote.
    (target,) = job["static_configs"]
    matched = list(Path("/").glob(_expand(target["labels"]["__path__"], log_dir).lstrip("/")))
    assert matched == [log_dir / "bp_sol" / "bp_sol_structured.log"]

    stages = {name: body for stage in job["pipeline_stages"] for name, body in stage.items()}
    expressions: dict[str, str] = stages["json"]["expressions"]
    for record in records:
        # What the json stage extracts: each JMESPath expression over the parsed line.
        extracted = {
            name: jmespath.search(expr or name, record) for name, expr in expressions.items()
        }
        missing = [name for name, value in extracted.items() if value is None]
        assert not missing, f"{missing} not in {record}"
        assert extracted["instance"] == "bp_sol"
        assert extracted["level"] in {"debug", "info", "warning", "error", "critical"}
        assert extracted["stream"] in {"stdout", "stderr", "sink"}
        # The timestamp stage parses the extracted source with its Go layout.
        ts_stage = stages["timestamp"]
        value = extracted[ts_stage["source"]]
        assert GO_LAYOUTS[ts_stage["format"]].fullmatch(value), value
        when = datetime.fromisoformat(value)
        assert abs(datetime.now(UTC) - when) < timedelta(minutes=10)
    # Labels come only from extracted fields (few, low-cardinality ones).
    assert set(stages["labels"]) <= set(expressions)
    assert set(stages["labels"]) == {"level", "instance", "stream"}
    # The warning from the JSON line and the traceback's ERROR keep their levels.
    levels = [jmespath.search(expressions["level"], r) for r in records]
    assert "warning" in levels and "error" in levels


VRL_FIELD = re.compile(r"(?<![\w!])\.([A-Za-z_][A-Za-z0-9_]*)")
VRL_ASSIGN = re.compile(r"^\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)", re.M)
VECTOR_OWN = {"message"}  # what the file source gives the transform: the raw line


def test_vector_config_reads_our_fields(written: tuple[Path, list[dict[str, Any]], str]) -> None:
    log_dir, records, raw = written
    config = yaml.safe_load((DEPLOY / "vector" / "vector.yaml").read_text())
    source = config["sources"]["gridkeeper"]
    (include,) = source["include"]
    assert list(Path("/").glob(_expand(include, log_dir).lstrip("/"))) == [
        log_dir / "bp_sol" / "bp_sol_structured.log"
    ]
    transform = config["transforms"]["parsed"]
    assert transform["type"] == "remap" and transform["inputs"] == ["gridkeeper"]
    vrl: str = transform["source"]
    # Kept simple on purpose: the whole line is our JSON object, then one timestamp.
    assert "parse_json!(string!(.message))" in vrl
    assigned = set(VRL_ASSIGN.findall(vrl))
    read = {f for line in vrl.splitlines() for f in VRL_FIELD.findall(line.split("=", 1)[-1])}
    needed = read - VECTOR_OWN - assigned
    assert needed == {"ts"}, needed
    fmt = re.search(r'parse_timestamp!\(\.ts, format: "([^"]+)"\)', vrl)
    assert fmt, vrl
    for record in records:
        assert CHRONO_FORMATS[fmt.group(1)].fullmatch(record["ts"]), record["ts"]
    # Loki labels are templates over the event: fields of our records or set by the VRL.
    labels = config["sinks"]["loki"]["labels"]
    for key, template in labels.items():
        fields = re.findall(r"\{\{\s*(\w+)\s*\}\}", template)
        for field in fields:
            assert field in assigned or all(field in r for r in records), (key, field)
    assert raw.endswith("\n") and all(line.startswith("{") for line in raw.splitlines())
