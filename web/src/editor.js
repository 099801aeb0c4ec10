// The editor: CodeMirror 6, one EditorState per input file, YAML / JSON / TOML highlighting,
// findings as lint diagnostics (gutter markers, underlines, F8 to step through them).
import { EditorState, Compartment } from '@codemirror/state';
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  highlightSpecialChars, drawSelection, rectangularSelection, crosshairCursor,
} from '@codemirror/view';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { searchKeymap, highlightSelectionMatches } from '@codemirror/search';
import {
  syntaxHighlighting, HighlightStyle, indentOnInput, bracketMatching, foldGutter, foldKeymap,
  StreamLanguage,
} from '@codemirror/language';
import { lintGutter, lintKeymap, setDiagnostics } from '@codemirror/lint';
import { tags as t } from '@lezer/highlight';
import { yaml } from '@codemirror/lang-yaml';
import { json } from '@codemirror/lang-json';
import { toml } from '@codemirror/legacy-modes/mode/toml';

const tomlLanguage = StreamLanguage.define(toml);

export function languageFor(path) {
  const lower = path.toLowerCase();
  if (lower.endsWith('.json')) return json();
  if (lower.endsWith('.toml')) return tomlLanguage;
  return yaml();
}

// Colours chosen for at least 4.5:1 contrast on the white editor background.
const highlight = HighlightStyle.define([
  { tag: [t.propertyName, t.definition(t.propertyName)], color: '#0b4f8a' },
  { tag: [t.string, t.special(t.string)], color: '#0a6b2d' },
  { tag: [t.number, t.bool, t.null, t.atom], color: '#8a3b00' },
  { tag: [t.keyword, t.operatorKeyword, t.modifier], color: '#7a1f84' },
  { tag: [t.comment, t.lineComment, t.blockComment], color: '#5b6473', fontStyle: 'italic' },
  { tag: [t.meta, t.documentMeta, t.processingInstruction], color: '#7a1f84', fontWeight: '600' },
  { tag: [t.heading, t.typeName, t.className], color: '#0b4f8a', fontWeight: '600' },
  { tag: [t.labelName, t.name, t.variableName], color: '#8a3b00' },
  { tag: [t.punctuation, t.separator, t.bracket, t.squareBracket, t.brace], color: '#3d4452' },
  { tag: t.invalid, color: '#b3261e' },
]);

const theme = EditorView.theme({
  '&': { height: '100%', fontSize: '13.5px', backgroundColor: '#ffffff', color: '#1b1f24' },
  '.cm-scroller': {
    fontFamily: 'ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace',
    lineHeight: '1.55',
  },
  '.cm-content': { caretColor: '#0b4f8a', paddingBottom: '40vh' },
  '.cm-gutters': { backgroundColor: '#f6f7f9', color: '#5b6473', borderRight: '1px solid #e3e6eb' },
  '.cm-activeLine': { backgroundColor: '#f1f5fb' },
  '.cm-activeLineGutter': { backgroundColor: '#e6edf7', color: '#1b1f24' },
  '&.cm-focused .cm-cursor': { borderLeftColor: '#0b4f8a', borderLeftWidth: '2px' },
  '&.cm-focused': { outline: 'none' },
  '.cm-selectionBackground, ::selection': { backgroundColor: '#cfe0f7 !important' },
  '.cm-lintRange-error': { backgroundImage: 'none', textDecoration: 'underline wavy #c62828', textUnderlineOffset: '3px' },
  '.cm-lintRange-warning': { backgroundImage: 'none', textDecoration: 'underline wavy #b26a00', textUnderlineOffset: '3px' },
  '.cm-lintRange-info': { backgroundImage: 'none', textDecoration: 'underline dotted #1f5fbf', textUnderlineOffset: '3px' },
  '.cm-lintRange-hint': { backgroundImage: 'none' },
  '.cm-flash-line': { backgroundColor: '#fff3c4', transition: 'background-color 1.2s' },
  '.cm-tooltip-lint': { maxWidth: '520px' },
  '.cm-diagnostic': { whiteSpace: 'pre-wrap', fontFamily: 'inherit' },
}, { dark: false });

/** Maps report severities to CodeMirror diagnostic severities. */
function diagnosticSeverity(severity, accepted) {
  if (accepted) return 'info';
  switch (severity) {
    case 'critical':
    case 'high':
    case 'error':
      return 'error';
    case 'medium':
      return 'warning';
    case 'low':
      return 'info';
    default:
      return 'hint';
  }
}

export class Editor {
  constructor(parent, { onChange }) {
    this.onChange = onChange;
    this.states = new Map();
    this.language = new Compartment();
    this.path = null;
    this.suppress = false;
    this.view = new EditorView({ parent, state: EditorState.create({ doc: '' }) });
  }

  extensions(path) {
    return [
      lineNumbers(),
      foldGutter(),
      lintGutter(),
      highlightActiveLineGutter(),
      highlightSpecialChars(),
      history(),
      drawSelection(),
      EditorState.allowMultipleSelections.of(true),
      indentOnInput(),
      syntaxHighlighting(highlight),
      bracketMatching(),
      rectangularSelection(),
      crosshairCursor(),
      highlightActiveLine(),
      highlightSelectionMatches(),
      EditorState.tabSize.of(2),
      keymap.of([...defaultKeymap, ...historyKeymap, ...searchKeymap, ...foldKeymap, ...lintKeymap]),
      this.language.of(languageFor(path)),
      theme,
      EditorView.contentAttributes.of({ 'aria-label': `Contents of ${path}`, tabindex: '0' }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged && !this.suppress && this.path) {
          this.onChange(this.path, update.state.doc.toString());
        }
      }),
    ];
  }

  /** Creates or replaces a file's contents. */
  setFile(path, text) {
    const state = EditorState.create({ doc: text, extensions: this.extensions(path) });
    this.states.set(path, state);
    if (this.path === path) {
      this.suppress = true;
      this.view.setState(state);
      this.suppress = false;
    }
  }

  removeFile(path) {
    this.states.delete(path);
  }

  renameFile(from, to) {
    const state = this.states.get(from);
    if (!state) return;
    this.states.delete(from);
    const next = state.update({ effects: this.language.reconfigure(languageFor(to)) }).state;
    this.states.set(to, next);
    if (this.path === from) {
      this.path = to;
      this.view.setState(next);
    }
  }

  /** Shows a file; keeps the state (undo history, selection) of the one it leaves. */
  show(path) {
    if (this.path === path) return;
    if (this.path && this.states.has(this.path)) this.states.set(this.path, this.view.state);
    const state = this.states.get(path);
    if (!state) return;
    this.path = path;
    this.suppress = true;
    this.view.setState(state);
    this.suppress = false;
  }

  text(path) {
    if (path === this.path) return this.view.state.doc.toString();
    const state = this.states.get(path);
    return state ? state.doc.toString() : '';
  }

  /** Replaces the whole text of the shown file as an edit (undoable, triggers onChange). */
  replaceText(text) {
    const doc = this.view.state.doc;
    this.view.dispatch({ changes: { from: 0, to: doc.length, insert: text } });
  }

  /** Puts the report's findings and errors for one file into its gutter and text. */
  setDiagnostics(path, items) {
    const shown = path === this.path;
    const state = shown ? this.view.state : this.states.get(path);
    if (!state) return;
    const doc = state.doc;
    const diagnostics = [];
    for (const item of items) {
      const lineNo = Math.min(Math.max(item.line || 1, 1), doc.lines);
      const line = doc.line(lineNo);
      const col = Math.max((item.column || 1) - 1, 0);
      const from = Math.min(line.from + col, line.to);
      const to = line.to > from ? line.to : Math.min(from + 1, doc.length);
      diagnostics.push({
        from,
        to: Math.max(to, from),
        severity: diagnosticSeverity(item.severity, item.accepted),
        source: item.code ? `${item.code} ${item.rule || ''}`.trim() : 'rbac-gate',
        message: item.accepted ? `${item.message}\n(accepted: ${item.accepted.reason})` : item.message,
      });
    }
    const spec = setDiagnostics(state, diagnostics);
    if (shown) this.view.dispatch(spec);
    else this.states.set(path, state.update(spec).state);
  }

  /** Moves the cursor to line:column of the shown file, scrolls it to the middle and focuses. */
  goto(line, column = 1) {
    const doc = this.view.state.doc;
    const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
    const pos = Math.min(l.from + Math.max(column - 1, 0), l.to);
    this.view.dispatch({
      selection: { anchor: pos },
      effects: EditorView.scrollIntoView(pos, { y: 'center' }),
    });
    this.view.focus();
  }

  cursor() {
    const state = this.view.state;
    const pos = state.selection.main.head;
    const line = state.doc.lineAt(pos);
    return { path: this.path, line: line.number, column: pos - line.from + 1 };
  }
}
