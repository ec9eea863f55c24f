/**
 * Allowlist for TeX math in untrusted answers.
 *
 * Math is passed verbatim to LaTeX (PDF via LaTeX) and converted by texmath elsewhere, so a `$…$`
 * span is a way to smuggle raw TeX (`$\input{/etc/passwd}$`, `$\immediate\write18{…}$`). A denylist
 * of dangerous commands leaks (`\csname input\endcsname`, `^^5cinput`, catcode tricks), so math is
 * kept only when every control sequence is a known, side-effect-free math command; anything else is
 * shown as code by the sanitiser instead.
 */

const SAFE_COMMANDS = new Set(
  `
  alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa varkappa lambda mu nu xi
  omicron pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega
  Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega digamma
  frac dfrac tfrac cfrac sqrt binom dbinom tbinom choose over
  sum prod coprod int iint iiint oint bigcup bigcap bigsqcup bigvee bigwedge bigoplus bigotimes bigodot biguplus
  lim liminf limsup max min sup inf det gcd lcm Pr arg deg dim hom ker ln lg log exp
  sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh coth sgn
  left right middle big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr
  cdot cdots ldots dots dotsb dotsc dotsi dotsm dotso vdots ddots times div pm mp ast star circ bullet
  setminus smallsetminus wr amalg
  leq geq neq le ge ne leqq geqq leqslant geqslant lessapprox gtrapprox lesssim gtrsim approx approxeq
  equiv sim simeq cong propto ll gg lll ggg asymp doteq prec succ preceq succeq
  subset supset subseteq supseteq subsetneq supsetneq sqsubset sqsupset sqsubseteq sqsupseteq
  in notin ni owns cup cap sqcup sqcap uplus emptyset varnothing
  forall exists nexists neg lnot land lor wedge vee top bot vdash dashv models
  to gets rightarrow leftarrow Rightarrow Leftarrow leftrightarrow Leftrightarrow mapsto longmapsto
  implies impliedby iff longrightarrow longleftarrow Longrightarrow Longleftarrow longleftrightarrow
  Longleftrightarrow uparrow downarrow Uparrow Downarrow updownarrow Updownarrow nearrow searrow swarrow
  nwarrow hookrightarrow hookleftarrow rightharpoonup rightharpoondown leftharpoonup leftharpoondown
  rightleftharpoons leadsto xrightarrow xleftarrow
  infty partial nabla hbar hslash ell wp Re Im aleph beth gimel prime backprime imath jmath
  angle measuredangle perp parallel nparallel mid nmid shortmid
  mathbb mathcal mathrm mathbf mathit mathsf mathtt mathfrak mathscr boldsymbol bm operatorname
  text textrm textbf textit textsf texttt textnormal mbox
  hat widehat bar overline underline vec overrightarrow overleftarrow dot ddot dddot tilde widetilde
  acute grave breve check mathring overbrace underbrace overset underset stackrel substack
  quad qquad enspace thinspace negthinspace
  pmod bmod mod pod
  displaystyle textstyle scriptstyle scriptscriptstyle limits nolimits
  lfloor rfloor lceil rceil langle rangle lvert rvert lVert rVert vert Vert lbrace rbrace lbrack rbrack
  backslash
  not colon therefore because triangle triangleleft triangleright square blacksquare diamond Diamond
  oplus ominus otimes oslash odot bigcirc dagger ddagger
  checkmark surd flat natural sharp clubsuit diamondsuit heartsuit spadesuit
  cancel bcancel xcancel boxed phantom hphantom vphantom
  begin end tag nonumber notag label
  `
    .split(/\s+/)
    .filter(Boolean),
);

const SAFE_ENVIRONMENTS = new Set([
  'aligned', 'alignedat', 'align', 'align*', 'gathered', 'gather', 'gather*', 'split', 'cases', 'dcases',
  'matrix', 'pmatrix', 'bmatrix', 'Bmatrix', 'vmatrix', 'Vmatrix', 'smallmatrix', 'array', 'subarray',
  'equation', 'equation*', 'multline', 'multline*',
]);

// Control symbols: `\,` `\;` `\!` `\{` `\}` `\|` `\\` `\ ` `\%` `\#` `\&` `\$` `\_` and spacing.
const SAFE_SYMBOLS = new Set([',', ';', ':', '!', '{', '}', '|', '\\', ' ', '%', '#', '&', '$', '_', '>', '<', "'", '\n', '\t']);

/** Longest math span kept; longer ones are shown as code (bounds texmath work on hostile input). */
const MAX_MATH_CHARS = 4000;

/** True when `tex` uses only known math commands and environments (see module comment). */
export function isSafeTexMath(tex: string): boolean {
  if (tex.length > MAX_MATH_CHARS) return false;
  // `^^5c` is TeX's notation for the character 0x5c (a backslash): a way around any command check.
  if (tex.includes('^^')) return false;
  // An unescaped `%` comments out the rest of the line in LaTeX, including the closing delimiter.
  if (/(^|[^\\])%/.test(tex)) return false;
  // Quarto shortcodes are expanded before TeX sees anything.
  if (/\{\{/.test(tex)) return false;
  for (let i = 0; i < tex.length; i++) {
    if (tex[i] !== '\\') continue;
    const next = tex[i + 1];
    if (next === undefined) return false;
    if (!/[A-Za-z]/.test(next)) {
      if (!SAFE_SYMBOLS.has(next)) return false;
      i += 1;
      continue;
    }
    let end = i + 1;
    while (end < tex.length && /[A-Za-z]/.test(tex[end]!)) end++;
    const name = tex.slice(i + 1, end);
    if (!SAFE_COMMANDS.has(name)) return false;
    if (name === 'begin' || name === 'end') {
      const env = /^\s*\{([A-Za-z*]+)\}/.exec(tex.slice(end));
      if (!env || !SAFE_ENVIRONMENTS.has(env[1]!)) return false;
      end += env[0].length;
    }
    i = end - 1;
  }
  return true;
}
