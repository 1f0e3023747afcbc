"""The code editor: streamlit-ace set up for Python sources, with underscores visible and no completion in the way.

streamlit-ace 0.1.1 turns Ace's live autocompletion on and offers no option against it: its popup opens while
typing and Enter takes its suggestion instead of a new line (`x = self._ti` + Enter gave `x = self._ticks`). A
script in the page turns completion and snippets off in every Ace editor it finds, once each (the component's
frame is served by the same origin, so the page can reach its editor). At Ace's default 14 px, Chrome draws no
underscores (`log_every_ticks` reads `log every ticks`); at 15 px it does.
"""
from __future__ import annotations

import streamlit as st
from streamlit_ace import st_ace

FONT_SIZE = 15
_QUIET_ACE = """<script>
(function () {
  if (window.hiveQuietAce) { return; }
  window.hiveQuietAce = true;
  var off = {enableLiveAutocompletion: false, enableBasicAutocompletion: false, enableSnippets: false};
  setInterval(function () {
    document.querySelectorAll('iframe[title="streamlit_ace.streamlit_ace"]').forEach(function (frame) {
      try {
        var element = frame.contentWindow.document.getElementById("ace-editor");
        var editor = element && element.env && element.env.editor;
        if (editor && !editor.hiveQuiet) { editor.setOptions(off); editor.hiveQuiet = true; }
      } catch (error) { /* a frame still loading */ }
    });
  }, 250);
})();
</script>"""


def code_editor(source: str, key: str, min_lines: int = 20, max_lines: int = 40) -> str | None:
    """A Python editor holding `source`; returns its text as edited (sent to the script as the operator types)."""
    st.html(_QUIET_ACE, unsafe_allow_javascript=True)
    return st_ace(value=source, language="python", theme="chrome", font_size=FONT_SIZE, min_lines=min_lines,
                  max_lines=max_lines, auto_update=True, key=key)
