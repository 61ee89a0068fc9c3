// MathJax reads the \( \) and \[ \] spans that pymdownx.arithmatex (generic mode) writes.
window.MathJax = {
  tex: {inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: true},
  options: {processHtmlClass: "arithmatex", ignoreHtmlClass: ".*"},
};
document$.subscribe(() => MathJax.typesetPromise());
