"""The style sheets: components, the page (screen, phone, print), notebooks.

Every component rule is scoped under ``.skkl-display`` so that a notebook
output cannot restyle the notebook around it. Colours are tints over the
inherited text colour where they can be, so a dark notebook theme stays
readable; the drift and no-drift colours are matplotlib's C3 and C0, as in
:class:`~skkl.plotting.DriftDisplay`. Only local system fonts are named: the
page never loads a font.
"""

from __future__ import annotations

__all__ = ["COMPONENT_CSS", "NOTEBOOK_CSS", "PAGE_CSS"]

COMPONENT_CSS = """
.skkl-display {
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
    Arial, sans-serif;
  line-height: 1.45;
  max-width: 100%;
  overflow-wrap: anywhere;
}
.skkl-display .skkl-verdict {
  border-left: 6px solid #7f7f7f;
  border-radius: 4px;
  padding: 0.55em 0.9em;
  margin: 0 0 0.9em 0;
  background: rgba(127, 127, 127, 0.1);
}
.skkl-display .skkl-verdict--drift {
  border-color: #d62728;
  background: rgba(214, 39, 40, 0.1);
}
.skkl-display .skkl-verdict--ok {
  border-color: #1f77b4;
  background: rgba(31, 119, 180, 0.1);
}
.skkl-display .skkl-verdict--caution {
  border-color: #b8860b;
  background: rgba(184, 134, 11, 0.12);
}
.skkl-display .skkl-verdict-label {
  font-weight: 700;
  font-size: 1.2em;
  letter-spacing: 0.02em;
}
.skkl-display .skkl-verdict p { margin: 0.25em 0 0 0; }
.skkl-display .skkl-facts {
  display: grid;
  grid-template-columns: max-content minmax(0, 1fr);
  gap: 0.2em 1.2em;
  margin: 0 0 0.9em 0;
}
.skkl-display .skkl-facts dt { font-weight: 600; }
.skkl-display .skkl-facts dd { margin: 0; }
.skkl-display .skkl-scroll {
  overflow-x: auto;
  max-width: 100%;
  margin: 0 0 0.9em 0;
}
.skkl-display table.skkl-table {
  border-collapse: collapse;
  font-variant-numeric: tabular-nums;
  font-size: 0.92em;
}
.skkl-display .skkl-caption { font-weight: 600; margin: 0 0 0.3em 0; }
.skkl-display .skkl-table th,
.skkl-display .skkl-table td {
  padding: 0.3em 0.65em;
  border-bottom: 1px solid rgba(127, 127, 127, 0.3);
  text-align: left;
  white-space: nowrap;
  vertical-align: middle;
}
.skkl-display .skkl-table thead th {
  border-bottom: 2px solid rgba(127, 127, 127, 0.6);
  font-weight: 600;
}
.skkl-display .skkl-table .skkl-num { text-align: right; }
.skkl-display .skkl-table tr.skkl-row--drift th { color: #d62728; }
.skkl-display .skkl-track {
  display: inline-block;
  width: 5em;
  height: 0.75em;
  margin-left: 0.5em;
  vertical-align: middle;
  background: rgba(127, 127, 127, 0.15);
}
.skkl-display .skkl-bar {
  display: block;
  height: 100%;
  background: #1f77b4;
}
.skkl-display .skkl-bar--drift { background: #d62728; }
.skkl-display .skkl-figure { margin: 0.4em 0 1em 0; }
.skkl-display .skkl-figure svg {
  display: block;
  width: 100%;
  height: auto;
}
.skkl-display .skkl-figure figcaption,
.skkl-display .skkl-muted {
  font-size: 0.88em;
  opacity: 0.8;
}
.skkl-display .skkl-notes { margin: 0 0 0.9em 0; padding-left: 1.3em; }
.skkl-display .skkl-notes li { margin: 0.2em 0; }
""".strip()

PAGE_CSS = """
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; background: #fff; color: #1d1d1f; }
.skkl-page { max-width: 62rem; margin: 0 auto; padding: 1.25rem 1.25rem 2.5rem; }
.skkl-page h1 { font-size: 1.6em; margin: 0.2em 0 0.2em 0; }
.skkl-page h2 {
  font-size: 1.2em;
  margin: 1.6em 0 0.6em 0;
  padding-bottom: 0.2em;
  border-bottom: 1px solid rgba(127, 127, 127, 0.35);
}
.skkl-page header { margin-bottom: 1.2em; }
.skkl-page footer { margin-top: 2em; }
@media (max-width: 40em) {
  .skkl-page { padding: 0.75rem 0.75rem 2rem; }
  .skkl-page h1 { font-size: 1.35em; }
  .skkl-display .skkl-facts { grid-template-columns: minmax(0, 1fr); gap: 0; }
  .skkl-display .skkl-facts dd { margin-bottom: 0.45em; }
}
@media print {
  @page { margin: 15mm; }
  body { font-size: 10pt; }
  .skkl-page { max-width: none; padding: 0; }
  .skkl-display .skkl-scroll { overflow: visible; }
  .skkl-display .skkl-table th, .skkl-display .skkl-table td { white-space: normal; }
  .skkl-display .skkl-verdict, .skkl-display .skkl-figure, .skkl-display tr {
    break-inside: avoid;
  }
  .skkl-page h2 { break-after: avoid; }
  .skkl-display .skkl-verdict, .skkl-display .skkl-bar, .skkl-display .skkl-track {
    -webkit-print-color-adjust: exact;
    print-color-adjust: exact;
  }
}
""".strip()

# scikit-learn's convention: the plain-text fallback shows by default and the
# rich body is ``hidden``; this sheet swaps them. Where a viewer strips styles
# (an untrusted notebook, a code host's preview) the text stays readable.
NOTEBOOK_CSS = """
.skkl-display .skkl-fallback { display: none; }
.skkl-display .skkl-body { display: block !important; }
""".strip()
