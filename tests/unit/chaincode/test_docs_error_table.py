from pathlib import Path

from chaincode.errors import error_table


def test_docs_list_every_error_code_with_its_kind():
    doc = Path("docs/chaincode.md").read_text()
    for code, kind, _ in error_table():
        assert f"| `{code}` | {kind} |" in doc, code
