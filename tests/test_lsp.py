"""``torch2gluon lsp`` driven end to end by a real LSP client over stdio
(pytest-lsp's, itself pygls's), with the capabilities VS Code and Neovim
send: initialize, diagnostics on open/change/save, code actions, the
workspace configuration, syntax errors, shutdown and exit."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from torch2gluon import Options, translate

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
DEBOUNCE = 0.25
PUBLISH = types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS

MODEL = '''import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return x


net = Net()
y = torch.fft.fft(torch.ones(4))
'''
PARTIAL = "import torch\nx = torch.ones(5, 3)\ny = torch.fft.fft(x)\n"


def server_config(*command: str) -> ClientServerConfig:
    return ClientServerConfig(
        server_command=list(command or [sys.executable, "-m", "torch2gluon", "lsp", "--debounce", str(DEBOUNCE)]),
        server_env=ENV,
    )


@pytest.fixture
def workspace(tmp_path) -> Path:
    root = tmp_path / "my project"  # a space: URIs quote it, paths do not
    (root / ".git").mkdir(parents=True)  # no configuration from above
    return root


async def start(client: LanguageClient, root: Path, editor: str = "visual-studio-code", **extra) -> types.InitializeResult:
    capabilities = client_capabilities(editor)
    for name, value in extra.items():
        setattr(capabilities, name, value)
    return await client.initialize_session(
        types.InitializeParams(capabilities=capabilities, root_uri=root.as_uri(), workspace_folders=[
            types.WorkspaceFolder(uri=root.as_uri(), name="ws")])
    )


@pytest_lsp.fixture(config=server_config())
async def client(lsp_client: LanguageClient, workspace: Path):
    await start(lsp_client, workspace)
    yield
    await lsp_client.shutdown_session()
    assert lsp_client._server.returncode == 0  # shutdown, then exit: a clean exit


async def published(client: LanguageClient, send, uri: str, timeout: float = 60) -> types.PublishDiagnosticsParams:
    """Send something, then wait for the next diagnostics of ``uri``."""
    while True:
        waiting = client.protocol.wait_for_notification_async(PUBLISH)
        sent = send()
        if asyncio.iscoroutine(sent):
            await sent
        params = await asyncio.wait_for(waiting, timeout)
        if params.uri == uri:
            return params
        send = lambda: None  # noqa: E731 - another document's: wait on


async def open_document(client: LanguageClient, path: Path, text: str, version: int = 1) -> types.PublishDiagnosticsParams:
    path.write_text(text, encoding="utf-8", newline="")
    uri = path.as_uri()
    item = types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)
    return await published(
        client, lambda: client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item)), uri
    )


def lsp_range(text: str, line: int, column: int, end_line: int, end_column: int) -> types.Range:
    return types.Range(
        start=types.Position(line=line - 1, character=column - 1),
        end=types.Position(line=end_line - 1, character=end_column - 1),
    )


async def actions(client: LanguageClient, uri: str, line: int = 0, only: Optional[List[str]] = None) -> List[types.CodeAction]:
    found = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line=line, character=0), end=types.Position(line=line, character=0)),
            context=types.CodeActionContext(diagnostics=[], only=only),
        )
    )
    assert all(isinstance(a, types.CodeAction) for a in found or [])  # never a bare Command
    return list(found or [])


def apply(text: str, edit: types.WorkspaceEdit, uri: str) -> str:
    """Apply a WorkspaceEdit to ``text`` (UTF-16 positions, \\n lines)."""
    if edit.document_changes:
        (change,) = edit.document_changes
        assert change.text_document.uri == uri
        edits = change.edits
    else:
        edits = edit.changes[uri]
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def offset(pos: types.Position) -> int:
        return starts[pos.line] + pos.character

    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(e.range.start)] + e.new_text + text[offset(e.range.end):]
    return text


# ---------------------------------------------------------------------------
# initialize
# ---------------------------------------------------------------------------


@pytest_lsp.fixture(config=server_config())
async def bare_client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_initialize_advertises_sync_and_code_actions(bare_client: LanguageClient, workspace):
    result = await start(bare_client, workspace)
    assert result.server_info.name == "torch2gluon"
    sync = result.capabilities.text_document_sync
    assert sync.open_close and sync.change == types.TextDocumentSyncKind.Full and sync.save
    provider = result.capabilities.code_action_provider
    assert set(provider.code_action_kinds) == {types.CodeActionKind.Source, types.CodeActionKind.QuickFix}
    assert provider.resolve_provider is False
    assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf16


# ---------------------------------------------------------------------------
# diagnostics
# ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_diagnostics_on_open_follow_translate(client: LanguageClient, workspace):
    (workspace / "pyproject.toml").write_text('[tool.torch2gluon]\ninit = "mxnet"\nhybridize = true\n', encoding="utf-8")
    params = await open_document(client, workspace / "model.py", MODEL)
    expected = translate(MODEL, options=Options(init="mxnet", hybridize=True)).diagnostics
    assert [d.rule for d in expected] == ["T2G210", "T2G201", "T2G001"]  # info, warning, error
    got = params.diagnostics
    assert params.version == 1
    assert [d.code for d in got] == [d.rule for d in expected]
    assert [d.severity for d in got] == [
        types.DiagnosticSeverity.Information, types.DiagnosticSeverity.Warning, types.DiagnosticSeverity.Error,
    ]
    for lsp, ours in zip(got, expected):
        assert lsp.source == "torch2gluon" and lsp.message == ours.message
        assert lsp.range == lsp_range(MODEL, ours.line, ours.column, ours.end_line, ours.end_column)
    fft = got[2]
    line = MODEL.split("\n")[fft.range.start.line]
    assert line[fft.range.start.character: fft.range.end.character] == "torch.fft.fft"
    assert fft.code_description.href == (REPO / "docs" / "rules.md").as_uri() + "#t2g001-unsupported-api"
    rules_md = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert "(#t2g001-unsupported-api)" in rules_md and "## T2G001 unsupported-api" in rules_md


@pytest.mark.asyncio
async def test_a_document_without_torch_gets_an_empty_list(client: LanguageClient, workspace):
    params = await open_document(client, workspace / "util.py", "import os\nprint(os.sep)\n")
    assert list(params.diagnostics) == []


@pytest.mark.asyncio
async def test_a_syntax_error_is_one_error_where_python_puts_it(client: LanguageClient, workspace):
    text = "import torch\n\nx = torch.ones(2\n"
    params = await open_document(client, workspace / "broken.py", text)
    (diag,) = params.diagnostics
    assert diag.code == "T2G000" and diag.severity == types.DiagnosticSeverity.Error
    assert diag.range.start == types.Position(line=2, character=14)  # compile(): 3:15
    assert "was never closed" in diag.message
    found = await actions(client, (workspace / "broken.py").as_uri(), line=2)
    assert not [a for a in found if a.title.startswith("Translate")]


@pytest.mark.asyncio
async def test_did_change_is_debounced_and_refreshes(client: LanguageClient, workspace):
    path = workspace / "train.py"
    uri = path.as_uri()
    first = await open_document(client, path, PARTIAL)
    assert [d.code for d in first.diagnostics] == ["T2G001"]

    async def edits() -> None:  # three edits, 50 ms apart: fft -> fft2 -> ifft -> gone
        for version, (old, new) in enumerate([("fft(", "fft2("), ("fft2(", "ifft("), ("torch.fft.ifft(x)", "x * 2")], start=2):
            text_now[0] = text_now[0].replace(old, new, 1)
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=text_now[0])],  # full sync
                )
            )
            await asyncio.sleep(0.05)  # less than the debounce: no check in between

    text_now = [PARTIAL]
    params = await published(client, edits, uri)
    # the first diagnostics after the burst are those of its last version
    assert params.version == 4
    assert text_now[0] == "import torch\nx = torch.ones(5, 3)\ny = x * 2\n"
    assert list(params.diagnostics) == []
    # and the server's text is the client's: the Translate edit is translate() of it
    (action,) = [a for a in await actions(client, uri) if a.title.startswith("Translate")]
    assert apply(text_now[0], action.edit, uri) == translate(text_now[0]).code


@pytest.mark.asyncio
async def test_save_publishes_and_config_is_read_again(client: LanguageClient, workspace):
    path = workspace / "t.py"
    uri = path.as_uri()
    first = await open_document(client, path, "import torch\nx = torch.ones(2)\n")
    assert list(first.diagnostics) == []
    (workspace / "pyproject.toml").write_text('[tool.torch2gluon]\ndisable = ["T2G101"]\n', encoding="utf-8")
    params = await published(
        client,
        lambda: client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))),
        uri,
    )
    expected = translate("import torch\nx = torch.ones(2)\n", options=Options(disable=("T2G101",))).diagnostics
    assert [(d.code, d.message) for d in params.diagnostics] == [(d.rule, d.message) for d in expected] != []


@pytest.mark.asyncio
async def test_excluded_and_badly_configured_documents(client: LanguageClient, workspace):
    (workspace / "pyproject.toml").write_text('[tool.torch2gluon]\nexclude = ["legacy"]\n', encoding="utf-8")
    (workspace / "legacy").mkdir()
    params = await open_document(client, workspace / "legacy" / "old.py", PARTIAL)
    assert list(params.diagnostics) == []
    assert await actions(client, (workspace / "legacy" / "old.py").as_uri()) == []

    (workspace / "pyproject.toml").write_text('[tool.torch2gluon]\nbogus = 1\n', encoding="utf-8")
    params = await open_document(client, workspace / "new.py", PARTIAL)
    (diag,) = params.diagnostics
    assert diag.severity == types.DiagnosticSeverity.Error and "unknown key(s) bogus" in diag.message
    assert diag.code is None and diag.source == "torch2gluon"


@pytest.mark.asyncio
async def test_a_notebook_cell_alone_is_not_checked(client: LanguageClient, workspace):
    uri = (workspace / "nb.ipynb").as_uri().replace("file:", "vscode-notebook-cell:") + "#W0sZmlsZQ%3D%3D"
    item = types.TextDocumentItem(uri=uri, language_id="python", version=1, text=PARTIAL)
    params = await published(client, lambda: client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item)), uri)
    assert list(params.diagnostics) == []  # one cell is not the program: the CLI translates notebooks
    assert await actions(client, uri) == []


@pytest.mark.asyncio
async def test_close_clears_the_diagnostics(client: LanguageClient, workspace):
    path = workspace / "c.py"
    await open_document(client, path, PARTIAL)
    params = await published(
        client,
        lambda: client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=path.as_uri()))),
        path.as_uri(),
    )
    assert list(params.diagnostics) == []


# ---------------------------------------------------------------------------
# code actions
# ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_translate_action_replaces_the_document_with_translate_output(client: LanguageClient, workspace):
    path = workspace / "model.py"
    await open_document(client, path, MODEL)
    uri = path.as_uri()
    (action,) = [a for a in await actions(client, uri) if a.title.startswith("Translate")]
    assert action.kind == types.CodeActionKind.Source and action.command is None
    assert action.title == "Translate to MXNet Gluon (1 left untranslated, marked)"
    (change,) = action.edit.document_changes  # VS Code takes versioned edits
    assert change.text_document.version == 1
    (edit,) = change.edits
    lines = MODEL.split("\n")
    assert edit.range == types.Range(
        start=types.Position(line=0, character=0), end=types.Position(line=len(lines) - 1, character=len(lines[-1]))
    )
    assert edit.new_text == translate(MODEL).code
    assert apply(MODEL, action.edit, uri) == translate(MODEL).code
    # asked for refactorings only: no Translate (it is a source action)
    assert not [a for a in await actions(client, uri, only=[types.CodeActionKind.Refactor]) if a.title.startswith("Translate")]


@pytest.mark.asyncio
async def test_ignore_quick_fix_silences_its_diagnostic(client: LanguageClient, workspace):
    path = workspace / "partial.py"
    uri = path.as_uri()
    await open_document(client, path, PARTIAL)
    found = await actions(client, uri, line=2, only=[types.CodeActionKind.QuickFix])
    (fix,) = found
    assert fix.title == "Ignore T2G001 here (# torch2gluon: ignore[T2G001])"
    assert fix.kind == types.CodeActionKind.QuickFix and fix.diagnostics[0].code == "T2G001"
    fixed = apply(PARTIAL, fix.edit, uri)
    assert fixed.split("\n")[2] == "y = torch.fft.fft(x)  # torch2gluon: ignore[T2G001]"
    assert translate(fixed).diagnostics == ()
    (change,) = fix.edit.document_changes
    params = await published(
        client,
        lambda: client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)],
        )),
        uri,
    )
    assert list(params.diagnostics) == []


@pytest.mark.asyncio
async def test_lines_end_where_lsp_says(client: LanguageClient, workspace):
    """A form feed and a U+2028 in a string end no line for LSP (nor for
    Python): the positions and the Translate edit stay right after a change."""
    text = 'import torch\n\x0c\ns = "a\u2028b"\ny = torch.fft.fft(torch.ones(2))\n'
    path = workspace / "odd.py"
    uri = path.as_uri()
    await open_document(client, path, "import os\n")
    params = await published(
        client,
        lambda: client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )),
        uri,
    )
    (diag,) = params.diagnostics
    assert (diag.range.start.line, diag.range.start.character) == (3, 4)
    (action,) = [a for a in await actions(client, uri) if a.title.startswith("Translate")]
    assert apply(text, action.edit, uri) == translate(text).code


@pytest_lsp.fixture(config=server_config())
async def neovim(lsp_client: LanguageClient, workspace: Path):
    result = await start(lsp_client, workspace, editor="neovim")
    lsp_client.negotiated = result.capabilities.position_encoding
    yield
    await lsp_client.shutdown_session()


EMOJI = 'import torch\r\ns = "\U0001F600"; y = torch.fft.fft(torch.ones(2))\r\n'


async def _emoji_positions(client: LanguageClient, workspace: Path):
    params = await open_document(client, workspace / "emoji.py", EMOJI)
    (diag,) = params.diagnostics
    uri = (workspace / "emoji.py").as_uri()
    (action,) = [a for a in await actions(client, uri) if a.title.startswith("Translate")]
    edits = action.edit.document_changes[0].edits if action.edit.document_changes else action.edit.changes[uri]
    (edit,) = edits
    # the document's CRLF newlines are kept
    assert edit.new_text == translate(EMOJI.replace("\r\n", "\n")).code.replace("\n", "\r\n")
    return diag.range.start.line, diag.range.start.character, diag.range.end.character


@pytest.mark.asyncio
async def test_positions_in_utf16_for_vscode(client: LanguageClient, workspace):
    # `torch.fft.fft` starts at code point 13; the emoji before it is two UTF-16 units
    assert await _emoji_positions(client, workspace) == (1, 14, 27)


@pytest.mark.asyncio
async def test_positions_in_utf8_for_neovim(neovim: LanguageClient, workspace):
    assert neovim.negotiated == types.PositionEncodingKind.Utf8  # Neovim offers UTF-8 first
    assert await _emoji_positions(neovim, workspace) == (1, 16, 29)  # four UTF-8 bytes


# ---------------------------------------------------------------------------
# start, shutdown, exit
# ---------------------------------------------------------------------------


def _message(payload: dict) -> bytes:
    body = json.dumps(payload).encode("utf-8")
    return f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body


def _responses(data: bytes) -> List[dict]:
    """The JSON-RPC messages in a server's stdout."""
    found = []
    while data:
        header, _, rest = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", header).group(1))
        found.append(json.loads(rest[:length]))
        data = rest[length:]
    return found


def _session(command: List[str], shutdown: bool) -> subprocess.CompletedProcess:
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
    ]
    if shutdown:
        messages.append({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
    messages.append({"jsonrpc": "2.0", "method": "exit"})
    return subprocess.run(command, input=b"".join(map(_message, messages)), capture_output=True, env=ENV, timeout=120)


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "torch2gluon", "lsp"],
        [str(Path(sys.executable).with_name("torch2gluon")), "lsp", "--stdio"],
    ],
    ids=["python -m torch2gluon lsp", "torch2gluon lsp --stdio"],
)
def test_shutdown_then_exit_is_clean(command):
    proc = _session(command, shutdown=True)
    assert proc.returncode == 0, proc.stderr.decode()
    initialized, shut = _responses(proc.stdout)
    assert initialized["id"] == 1 and initialized["result"]["serverInfo"]["name"] == "torch2gluon"
    assert shut == {"jsonrpc": "2.0", "id": 2, "result": None}
    assert b"Traceback" not in proc.stderr


def test_exit_without_shutdown_is_exit_code_1():
    proc = _session([sys.executable, "-m", "torch2gluon", "lsp"], shutdown=False)
    assert proc.returncode == 1, proc.stderr.decode()


def test_without_pygls_the_hint_is_printed():
    script = "import sys\nsys.modules['pygls'] = None\nfrom torch2gluon.cli import main\nsys.exit(main(['lsp']))\n"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV, timeout=60)
    assert proc.returncode == 2
    assert "the language server needs pygls" in proc.stderr and "pip install 'torch2gluon[lsp]'" in proc.stderr


@pytest.mark.asyncio
async def test_translations_are_cached_by_content(monkeypatch):
    """One translation per (options, text): the server asks translate() once."""
    from torch2gluon.lsp import server as server_module

    calls = []

    def counting(source, *, options=None):
        calls.append(source)
        return translate(source, options=options)

    monkeypatch.setattr(server_module, "translate", counting)
    server = server_module.Torch2GluonServer(debounce=0)
    first, second = await asyncio.gather(server.translation(PARTIAL, Options()), server.translation(PARTIAL, Options()))
    third = await server.translation(PARTIAL.replace("\n", "\r\n"), Options())  # same text, CRLF
    assert first is second is third and len(calls) == 1
    await server.translation(PARTIAL, Options(init="mxnet"))
    assert len(calls) == 2


# ---------------------------------------------------------------------------
# The edit arithmetic behind the quick fixes (no rule gives a suggestion
# yet, so that quick fix is checked here, on Diagnostics made by hand)
# ---------------------------------------------------------------------------


def _edited(text: str, edit) -> str:
    (l0, c0), (l1, c1), new = edit
    lines = text.split("\n")
    assert l0 == l1
    lines[l0] = lines[l0][:c0] + new + lines[l0][c1:]
    return "\n".join(lines)


def test_suggestion_edit_replaces_the_range_when_the_result_parses():
    from torch2gluon import Diagnostic, Severity
    from torch2gluon.lsp.convert import suggestion_edit

    text = "import torch\nx = torch.ones(2) + 1\n"
    diag = Diagnostic("T2G101", Severity.WARNING, "m", 2, 5, 2, 18, suggestion="nd.ones(2)")
    assert suggestion_edit(text, diag) == ((1, 4), (1, 17), "nd.ones(2)")
    assert _edited(text, suggestion_edit(text, diag)) == "import torch\nx = nd.ones(2) + 1\n"
    prose = Diagnostic("T2G101", Severity.WARNING, "m", 2, 5, 2, 18, suggestion="use nd.ones instead")
    assert suggestion_edit(text, prose) is None  # not code: no edit
    outside = Diagnostic("T2G101", Severity.WARNING, "m", 9, 1, 9, 2, suggestion="x")
    assert suggestion_edit(text, outside) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        # a def whose header spans lines: the comment goes on the line of its `:`
        ("import torch\n\n\ndef f(\n    x,\n    g=torch.fft.fft,\n):\n    # body\n    return x\n",
         "):  # torch2gluon: ignore[T2G001]"),
        # the last line of a statement spanning lines
        ("import torch\ny = torch.fft.fft(\n    torch.ones(3)\n)\n", ")  # torch2gluon: ignore[T2G001]"),
        # an existing list is extended
        ("import torch\ny = torch.fft.fft(x)  # torch2gluon: ignore[T2G101]\n",
         "y = torch.fft.fft(x)  # torch2gluon: ignore[T2G101, T2G001]"),
        # a statement in a block, with a comment of its own
        ("import torch\nfor i in range(2):\n    y = torch.fft.fft(i)  # note\n",
         "    y = torch.fft.fft(i)  # note  # torch2gluon: ignore[T2G001]"),
    ],
)
def test_ignore_edit_puts_the_comment_where_the_engine_reads_it(text, expected):
    from torch2gluon.lsp.convert import ignore_edit

    (diag,) = [d for d in translate(text).diagnostics if d.rule == "T2G001"]
    fixed = _edited(text, ignore_edit(text, diag))
    assert expected in fixed.split("\n")
    assert [d for d in translate(fixed).diagnostics if d.rule == "T2G001"] == []  # the engine reads it there


@pytest.mark.parametrize(
    "text, line",
    [
        ("import torch\nif True: y = torch.fft.fft(x)\n", 2),  # header and body on one line
        ("import torch\n\n\n@torch.jit.script\ndef f(x):\n    return x\n", 4),  # a decorator
        ("import torch\ny = torch.fft.fft(x)  # torch2gluon: ignore\n", 2),  # ignored already
        ("import torch\ny = (\n", 2),  # does not parse
    ],
)
def test_no_ignore_edit_where_none_works(text, line):
    from torch2gluon import Diagnostic, Severity
    from torch2gluon.lsp.convert import ignore_edit

    assert ignore_edit(text, Diagnostic("T2G001", Severity.ERROR, "m", line, 1, line, 2)) is None
