"""The language server (pygls): diagnostics and code actions from ``translate()``.

One ``Torch2GluonServer`` serves one client over stdio. Each check of a
document translates its current text with the options of the
``[tool.torch2gluon]`` table above it; translations are cached by
(options, text), so a save, a code action or an undo back to a text seen
before costs nothing, and computed in a worker thread, so the server keeps
reading messages meanwhile. Changes are debounced: the document is checked
once the edits have paused for ``debounce`` seconds; diagnostics that are
out of date by then (the document changed again) are not published.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from .. import __version__
from ..api import Options, Translation, translate
from ..base.diagnostics import INTERNAL_ERROR, SYNTAX_ERROR, Diagnostic, Severity
from ..base.source import detect_newline
from ..config import Config, ConfigError, find_config, path_selected
from .convert import Edit, document_end, ignore_edit, lines_of, normalize, span, suggestion_edit

__all__ = ["Torch2GluonServer", "serve"]

log = logging.getLogger(__name__)

SOURCE = "torch2gluon"
TRANSLATE_TITLE = "Translate to MXNet Gluon"
CACHE_SIZE = 64
SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}
_RULES_MD = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


class _Settings:
    """What checking one document needs: its options, or why it is not checked."""

    def __init__(self, options: Options, selected: bool = True, problem: Optional[str] = None) -> None:
        self.options = options
        self.selected = selected
        self.problem = problem


def _options(config: Optional[Config]) -> Options:
    if config is None:
        return Options()
    return Options(init=config.init or "torch", disable=config.disable, hybridize=bool(config.hybridize))


class Torch2GluonServer(LanguageServer):
    def __init__(self, debounce: float) -> None:
        # Full sync: the client sends the whole text on each change. pygls
        # applies incremental edits on str.splitlines() lines, which also end
        # at \f, \v, \x1c-\x1e, \x85, \u2028 and \u2029 (LSP lines end at
        # \n, \r\n, \r only): a script holding one would drift from the
        # editor's text, and the Translate edit would rewrite the wrong text.
        super().__init__(SOURCE, __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.debounce = debounce
        self.shutdown_requested = False
        self.rules_url: Optional[str] = _RULES_MD.as_uri() if _RULES_MD.is_file() else None
        self._cache: "OrderedDict[Tuple[Options, str], Translation]" = OrderedDict()
        self._running: Dict[Tuple[Options, str], "asyncio.Future[Translation]"] = {}
        self._pending: Dict[str, "asyncio.Task[None]"] = {}
        self._rules: Dict[str, Any] = {}

    # -- settings and translations -----------------------------------------

    def rules(self) -> Dict[str, Any]:
        if not self._rules:
            from ..rules import all_rules

            self._rules = {rule.code: rule for rule in all_rules()}
        return self._rules

    def settings(self, uri: str) -> _Settings:
        """The document's options from the pyproject.toml above it (as the
        CLI finds it); a document its ``exclude`` (or an explicit
        ``include``) leaves out is not checked."""
        if not uri.startswith(("file:", "untitled:")):
            # e.g. a notebook cell (vscode-notebook-cell:): one cell alone is not
            # the program; notebooks are translated whole, by the CLI
            return _Settings(Options(), selected=False)
        path = to_fs_path(uri) if uri.startswith("file:") else None
        if path is None:
            return _Settings(Options())
        try:
            config = find_config([path], list(self.rules()))
        except ConfigError as exc:
            return _Settings(Options(), problem=str(exc))
        if config is None:
            return _Settings(Options())
        include = config.include if "include" in config.keys else ("*",)
        return _Settings(_options(config), selected=path_selected(path, include, config.exclude, config.root))

    async def translation(self, text: str, options: Options) -> Translation:
        key = (options, normalize(text))
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        running = self._running.get(key)
        if running is None:
            loop = asyncio.get_running_loop()
            running = loop.run_in_executor(None, lambda: translate(key[1], options=options))
            self._running[key] = running
            running.add_done_callback(lambda fut: self._store(key, fut))
        return await asyncio.shield(running)

    def _store(self, key: Tuple[Options, str], fut: "asyncio.Future[Translation]") -> None:
        self._running.pop(key, None)
        if fut.cancelled() or fut.exception() is not None:
            return
        self._cache[key] = fut.result()
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def document(self, uri: str) -> Any:
        """The open document at ``uri`` (pygls keys them unquoted), or None."""
        return self.workspace.text_documents.get(unquote(uri))

    # -- diagnostics ---------------------------------------------------------

    @property
    def encoding(self) -> str:
        return str(getattr(self.workspace.position_encoding, "value", self.workspace.position_encoding) or "utf-16")

    def lsp_diagnostic(self, diag: Diagnostic, lines: List[str]) -> types.Diagnostic:
        (l0, c0), (l1, c1) = span(lines, diag, self.encoding)
        message = diag.message + (f" (suggestion: {diag.suggestion})" if diag.suggestion else "")
        href = None
        rule = self.rules().get(diag.rule)
        if rule is not None and self.rules_url is not None:
            href = f"{self.rules_url}#{rule.code.lower()}-{rule.name}"
        return types.Diagnostic(
            range=types.Range(start=types.Position(line=l0, character=c0), end=types.Position(line=l1, character=c1)),
            message=message,
            severity=SEVERITY[diag.severity],
            code=diag.rule,
            code_description=types.CodeDescription(href=href) if href else None,
            source=SOURCE,
            data={"rule": diag.rule, "name": rule.name if rule else None, "summary": rule.summary if rule else None},
        )

    def schedule(self, uri: str, delay: float) -> None:
        """Check ``uri`` after ``delay`` seconds, replacing a check still waiting."""
        waiting = self._pending.pop(uri, None)
        if waiting is not None:
            waiting.cancel()
        self._pending[uri] = asyncio.ensure_future(self._check_later(uri, delay))

    async def _check_later(self, uri: str, delay: float) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
            await self.check(uri)
        except asyncio.CancelledError:
            pass
        except Exception:  # never let a check take the server down
            log.exception("checking %s failed", uri)
        finally:
            if self._pending.get(uri) is asyncio.current_task():
                del self._pending[uri]

    async def check(self, uri: str) -> None:
        doc = self.document(uri)
        if doc is None:
            return
        text, version = doc.source, doc.version
        diagnostics = await self.diagnostics(uri, text)
        doc = self.document(uri)
        if doc is None or doc.version != version:
            return  # closed or changed meanwhile: a newer check is on its way
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )

    async def diagnostics(self, uri: str, text: str) -> List[types.Diagnostic]:
        settings = self.settings(uri)
        if settings.problem is not None:
            return [
                types.Diagnostic(
                    range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)),
                    message=f"torch2gluon's configuration: {settings.problem}",
                    severity=types.DiagnosticSeverity.Error,
                    source=SOURCE,
                )
            ]
        if not settings.selected:
            return []
        result = await self.translation(text, settings.options)
        lines = lines_of(text)
        return [self.lsp_diagnostic(d, lines) for d in result.diagnostics]

    # -- code actions --------------------------------------------------------

    def workspace_edit(self, uri: str, version: Optional[int], edits: List[Edit]) -> types.WorkspaceEdit:
        text_edits: List[Any] = [
            types.TextEdit(
                range=types.Range(start=types.Position(line=a[0], character=a[1]), end=types.Position(line=b[0], character=b[1])),
                new_text=new,
            )
            for a, b, new in edits
        ]
        caps = self.client_capabilities.workspace
        versioned = bool(caps and caps.workspace_edit and caps.workspace_edit.document_changes)
        if versioned:
            return types.WorkspaceEdit(
                document_changes=[
                    types.TextDocumentEdit(
                        text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
                        edits=text_edits,
                    )
                ]
            )
        return types.WorkspaceEdit(changes={uri: text_edits})

    async def code_actions(self, params: types.CodeActionParams) -> List[types.CodeAction]:
        uri = params.text_document.uri
        doc = self.document(uri)
        if doc is None:
            return []
        settings = self.settings(uri)
        if settings.problem is not None or not settings.selected:
            return []
        text, version = doc.source, doc.version
        result = await self.translation(text, settings.options)
        lines = lines_of(text)
        only = params.context.only

        def wanted(kind: str) -> bool:
            return only is None or any(kind == k or kind.startswith(f"{k}.") for k in only)

        actions: List[types.CodeAction] = []
        failed = any(d.rule in (SYNTAX_ERROR, INTERNAL_ERROR) for d in result.diagnostics)
        if wanted(types.CodeActionKind.Source.value) and result.changed and not failed:
            left = len(result.errors)
            title = TRANSLATE_TITLE + (f" ({left} left untranslated, marked)" if left else "")
            code = result.code
            newline = detect_newline(text)
            if newline != "\n":
                code = code.replace("\n", newline)
            whole: Edit = ((0, 0), document_end(lines, self.encoding), code)
            actions.append(
                types.CodeAction(
                    title=title,
                    kind=types.CodeActionKind.Source,
                    edit=self.workspace_edit(uri, version, [whole]),
                )
            )
        if wanted(types.CodeActionKind.QuickFix.value):
            first, last = params.range.start.line, params.range.end.line
            for diag in result.diagnostics:
                if diag.end_line - 1 < first or diag.line - 1 > last:
                    continue
                lsp_diag = self.lsp_diagnostic(diag, lines)
                fix = suggestion_edit(text, diag, self.encoding)
                if fix is not None:
                    actions.append(
                        types.CodeAction(
                            title=f"{diag.rule}: replace with `{diag.suggestion}`",
                            kind=types.CodeActionKind.QuickFix,
                            diagnostics=[lsp_diag],
                            is_preferred=True,
                            edit=self.workspace_edit(uri, version, [fix]),
                        )
                    )
                ignore = ignore_edit(text, diag, self.encoding)
                if ignore is not None:
                    actions.append(
                        types.CodeAction(
                            title=f"Ignore {diag.rule} here (# torch2gluon: ignore[{diag.rule}])",
                            kind=types.CodeActionKind.QuickFix,
                            diagnostics=[lsp_diag],
                            edit=self.workspace_edit(uri, version, [ignore]),
                        )
                    )
        return actions


def build(debounce: float) -> Torch2GluonServer:
    server = Torch2GluonServer(debounce)

    @server.feature(types.INITIALIZE)
    def initialize(ls: Torch2GluonServer, params: types.InitializeParams) -> None:
        options = params.initialization_options
        if isinstance(options, dict):
            if isinstance(options.get("debounce"), (int, float)) and options["debounce"] >= 0:
                ls.debounce = float(options["debounce"])
            if isinstance(options.get("rulesUrl"), str):
                ls.rules_url = options["rulesUrl"]

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: Torch2GluonServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: Torch2GluonServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, ls.debounce)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: Torch2GluonServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0)  # the pyproject.toml may have changed too

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: Torch2GluonServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        waiting = ls._pending.pop(uri, None)
        if waiting is not None:
            waiting.cancel()
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.Source, types.CodeActionKind.QuickFix],
            resolve_provider=False,
        ),
    )
    async def code_action(ls: Torch2GluonServer, params: types.CodeActionParams) -> List[types.CodeAction]:
        return await ls.code_actions(params)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: Torch2GluonServer, *args: Any) -> None:
        ls.shutdown_requested = True
        for waiting in list(ls._pending.values()):
            waiting.cancel()

    return server


def serve(debounce: float) -> int:
    """Serve over stdio; the exit code LSP asks for (0 after shutdown)."""
    server = build(debounce)
    server.start_io()
    return 0 if server.shutdown_requested else 1
