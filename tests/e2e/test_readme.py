"""The README's boto3 example runs as written against a live idpool, up to credentials."""

from __future__ import annotations

import re

from tests.conftest import ROOT
from tests.support.live import LiveServer

README = ROOT / "README.md"


def test_the_readme_boto3_example_gets_credentials(server: LiveServer) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    (example,) = [b for b in blocks if "boto3.client(" in b]
    assert "set_identity_pool_roles" in example
    assert "http://127.0.0.1:4599" in example
    namespace: dict[str, object] = {}
    exec(
        compile(example.replace("http://127.0.0.1:4599", server.url), "README.md", "exec"),
        namespace,
    )
    assert str(namespace["identity_id"]).startswith("us-east-1:")
    creds = namespace["creds"]
    assert isinstance(creds, dict) and creds["AccessKeyId"] and creds["SessionToken"]
