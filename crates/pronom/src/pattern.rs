//! The byte patterns of PRONOM signatures, compiled to one small language (byte classes,
//! bounded gaps, alternatives) and matched by backtracking over in-memory windows.
//!
//! Both syntaxes end up here: the compiled DROID form (anchor `Sequence` with left and right
//! fragments at gaps) and PRONOM's source form used by container signatures (`'text'`, `??`,
//! `{n-m}`, `*`, `(a|b)`, `[..]`).

/// A set of byte values.
#[derive(Clone, PartialEq, Eq)]
pub struct Class([u64; 4]);

impl std::fmt::Debug for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.single() {
            Some(b) => write!(f, "{b:02X}"),
            None => write!(
                f,
                "[{} values]",
                (0..=255u8).filter(|b| self.contains(*b)).count()
            ),
        }
    }
}

impl Class {
    pub fn none() -> Class {
        Class([0; 4])
    }
    pub fn byte(b: u8) -> Class {
        let mut c = Class::none();
        c.insert(b);
        c
    }
    pub fn any() -> Class {
        Class([u64::MAX; 4])
    }
    pub fn insert(&mut self, b: u8) {
        self.0[(b >> 6) as usize] |= 1 << (b & 63);
    }
    pub fn contains(&self, b: u8) -> bool {
        self.0[(b >> 6) as usize] & (1 << (b & 63)) != 0
    }
    pub fn negate(&mut self) {
        for w in &mut self.0 {
            *w = !*w;
        }
    }
    pub fn union(&mut self, other: &Class) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
    }
    pub fn single(&self) -> Option<u8> {
        if self.0.iter().map(|w| w.count_ones()).sum::<u32>() != 1 {
            return None;
        }
        let (i, w) = self.0.iter().enumerate().find(|(_, w)| **w != 0)?;
        Some((i as u32 * 64 + w.trailing_zeros()) as u8)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Class(Class),
    /// Any `min..=max` bytes; `max` `None` is unbounded.
    Gap {
        min: usize,
        max: Option<usize>,
    },
    Alt(Vec<Vec<Tok>>),
}

/// What remains to match after the current token list: a stack of token lists, innermost
/// first, so that alternatives need no copying.
struct Cont<'a> {
    toks: &'a [Tok],
    next: Option<&'a Cont<'a>>,
}

fn run(
    toks: &[Tok],
    k: Option<&Cont<'_>>,
    buf: &[u8],
    pos: usize,
    accept: &dyn Fn(usize) -> bool,
) -> Option<usize> {
    let Some((first, rest)) = toks.split_first() else {
        return match k {
            Some(c) => run(c.toks, c.next, buf, pos, accept),
            None => accept(pos).then_some(pos),
        };
    };
    match first {
        Tok::Class(c) => {
            if pos < buf.len() && c.contains(buf[pos]) {
                run(rest, k, buf, pos + 1, accept)
            } else {
                None
            }
        }
        Tok::Alt(alts) => {
            let cont = Cont {
                toks: rest,
                next: k,
            };
            alts.iter()
                .find_map(|alt| run(alt, Some(&cont), buf, pos, accept))
        }
        Tok::Gap { min, max } => {
            let start = pos.checked_add(*min)?;
            if start > buf.len() {
                return None;
            }
            let end = match max {
                Some(m) => pos.saturating_add(*m).min(buf.len()),
                None => buf.len(),
            };
            // Jump between occurrences of the next literal byte rather than trying every
            // position.
            if let Some(Tok::Class(c)) = rest.first()
                && let Some(b) = c.single()
            {
                let mut p = start;
                while p <= end && p < buf.len() {
                    let i = memchr::memchr(b, &buf[p..(end + 1).min(buf.len())])?;
                    if let Some(e) = run(rest, k, buf, p + i, accept) {
                        return Some(e);
                    }
                    p += i + 1;
                }
                return None;
            }
            (start..=end).find_map(|p| run(rest, k, buf, p, accept))
        }
    }
}

/// Whether `pattern` matches `buf` starting exactly at `pos`; returns the end of the first
/// match found.
pub fn match_at(pattern: &[Tok], buf: &[u8], pos: usize) -> Option<usize> {
    run(pattern, None, buf, pos, &|_| true)
}

/// Whether `pattern` matches from `pos` to exactly `end`.
pub fn matches_exactly(pattern: &[Tok], buf: &[u8], pos: usize, end: usize) -> bool {
    run(pattern, None, buf, pos, &|e| e == end).is_some()
}

/// The shortest and longest number of bytes `pattern` can match (`None`: unbounded).
pub fn length_bounds(pattern: &[Tok]) -> (usize, Option<usize>) {
    let mut lo = 0usize;
    let mut hi = Some(0usize);
    for t in pattern {
        let (a, b) = match t {
            Tok::Class(_) => (1, Some(1)),
            Tok::Gap { min, max } => (*min, *max),
            Tok::Alt(alts) => {
                let bounds: Vec<_> = alts.iter().map(|a| length_bounds(a)).collect();
                let a = bounds.iter().map(|b| b.0).min().unwrap_or(0);
                let b = bounds
                    .iter()
                    .try_fold(0usize, |acc, b| b.1.map(|x| acc.max(x)));
                (a, b)
            }
        };
        lo = lo.saturating_add(a);
        hi = match (hi, b) {
            (Some(h), Some(b)) => Some(h.saturating_add(b)),
            _ => None,
        };
    }
    (lo, hi)
}

/// The first position in `from..=to` (clamped to the buffer) where `pattern` matches, and the
/// end of that match. Candidates are found with `memchr` when the pattern starts with a
/// literal byte.
pub fn first_match(
    pattern: &[Tok],
    buf: &[u8],
    from: usize,
    to: Option<usize>,
) -> Option<(usize, usize)> {
    if from > buf.len() {
        return None;
    }
    let last = to.map_or(buf.len(), |t| t.min(buf.len()));
    if from > last {
        return None;
    }
    if let Some(Tok::Class(c)) = pattern.first()
        && let Some(b) = c.single()
    {
        let mut p = from;
        while p <= last && p < buf.len() {
            let i = memchr::memchr(b, &buf[p..(last + 1).min(buf.len())])?;
            if let Some(e) = match_at(pattern, buf, p + i) {
                return Some((p + i, e));
            }
            p += i + 1;
        }
        return None;
    }
    (from..=last).find_map(|p| match_at(pattern, buf, p).map(|e| (p, e)))
}

/// Whether `pattern` matches somewhere in `buf`.
pub fn find(pattern: &[Tok], buf: &[u8]) -> bool {
    first_match(pattern, buf, 0, None).is_some()
}

/// The mirror image of a pattern, to match it backwards on a reversed buffer.
pub fn reversed(pattern: &[Tok]) -> Vec<Tok> {
    pattern
        .iter()
        .rev()
        .map(|t| match t {
            Tok::Alt(alts) => Tok::Alt(alts.iter().map(|a| reversed(a)).collect()),
            other => other.clone(),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid byte sequence {text:?}: {reason}")]
pub struct PatternError {
    pub text: String,
    pub reason: &'static str,
}

/// Parses a byte sequence in either PRONOM syntax.
pub fn parse(text: &str) -> Result<Vec<Tok>, PatternError> {
    let err = |reason| PatternError {
        text: text.chars().take(120).collect(),
        reason,
    };
    let chars: Vec<char> = text.chars().collect();
    let (toks, used) = parse_seq(&chars, 0, &err)?;
    if used != chars.len() {
        return Err(err("unbalanced parenthesis"));
    }
    Ok(toks)
}

fn hex(c: char) -> Option<u8> {
    c.to_digit(16).map(|d| d as u8)
}

fn parse_seq(
    c: &[char],
    mut i: usize,
    err: &dyn Fn(&'static str) -> PatternError,
) -> Result<(Vec<Tok>, usize), PatternError> {
    let mut out = Vec::new();
    while i < c.len() {
        match c[i] {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            ')' | '|' => break,
            '\'' => {
                let end = c[i + 1..]
                    .iter()
                    .position(|&x| x == '\'')
                    .ok_or_else(|| err("unterminated string"))?;
                for ch in &c[i + 1..i + 1 + end] {
                    let mut buf = [0u8; 4];
                    for b in ch.encode_utf8(&mut buf).bytes() {
                        out.push(Tok::Class(Class::byte(b)));
                    }
                }
                i += end + 2;
            }
            '?' => {
                if c.get(i + 1) != Some(&'?') {
                    return Err(err("single '?'"));
                }
                out.push(Tok::Class(Class::any()));
                i += 2;
            }
            '*' => {
                out.push(Tok::Gap { min: 0, max: None });
                i += 1;
            }
            '{' => {
                let end = c[i..]
                    .iter()
                    .position(|&x| x == '}')
                    .ok_or_else(|| err("unterminated {"))?;
                let body: String = c[i + 1..i + end].iter().collect();
                let (min, max) = match body.split_once('-') {
                    Some((a, "*")) => (a.trim().parse().map_err(|_| err("bad {n-*}"))?, None),
                    Some((a, b)) => (
                        a.trim().parse().map_err(|_| err("bad {n-m}"))?,
                        Some(b.trim().parse().map_err(|_| err("bad {n-m}"))?),
                    ),
                    None => {
                        let n = body.trim().parse().map_err(|_| err("bad {n}"))?;
                        (n, Some(n))
                    }
                };
                out.push(Tok::Gap { min, max });
                i += end + 1;
            }
            '[' => {
                let end = c[i..]
                    .iter()
                    .position(|&x| x == ']')
                    .ok_or_else(|| err("unterminated ["))?;
                out.push(Tok::Class(parse_class(&c[i + 1..i + end], err)?));
                i += end + 1;
            }
            '(' => {
                let mut alts = Vec::new();
                i += 1;
                loop {
                    let (alt, next) = parse_seq(c, i, err)?;
                    alts.push(alt);
                    match c.get(next) {
                        Some('|') => i = next + 1,
                        Some(')') => {
                            i = next + 1;
                            break;
                        }
                        _ => return Err(err("unterminated (")),
                    }
                }
                out.push(Tok::Alt(alts));
            }
            a => {
                let b = c
                    .get(i + 1)
                    .copied()
                    .ok_or_else(|| err("odd number of hex digits"))?;
                let (Some(h), Some(l)) = (hex(a), hex(b)) else {
                    return Err(err("not a hex digit"));
                };
                out.push(Tok::Class(Class::byte(h << 4 | l)));
                i += 2;
            }
        }
    }
    Ok((out, i))
}

/// `[xx:yy]`, `[!xx]`, `[!xx:yy]`, `[&xx]` (all bits of the mask set), `[~xx]` (any bit set),
/// `['a':'z']`, and several of these side by side (a union).
fn parse_class(
    c: &[char],
    err: &dyn Fn(&'static str) -> PatternError,
) -> Result<Class, PatternError> {
    let (negate, body) = match c.first() {
        Some('!') => (true, &c[1..]),
        _ => (false, c),
    };
    let mut class = Class::none();
    let mut i = 0;
    let byte_at = |i: &mut usize| -> Result<u8, PatternError> {
        if body.get(*i) == Some(&'\'') {
            let ch = *body.get(*i + 1).ok_or_else(|| err("bad quoted byte"))?;
            if body.get(*i + 2) != Some(&'\'') || !ch.is_ascii() {
                return Err(err("bad quoted byte"));
            }
            *i += 3;
            return Ok(ch as u8);
        }
        let (Some(h), Some(l)) = (
            body.get(*i).copied().and_then(hex),
            body.get(*i + 1).copied().and_then(hex),
        ) else {
            return Err(err("bad byte in a set"));
        };
        *i += 2;
        Ok(h << 4 | l)
    };
    while i < body.len() {
        match body[i] {
            ' ' => i += 1,
            '&' | '~' => {
                let all = body[i] == '&';
                i += 1;
                let mask = byte_at(&mut i)?;
                for b in 0..=255u8 {
                    if (all && b & mask == mask) || (!all && b & mask != 0) {
                        class.insert(b);
                    }
                }
            }
            _ => {
                let lo = byte_at(&mut i)?;
                if matches!(body.get(i), Some(':' | '-')) {
                    i += 1;
                    let hi = byte_at(&mut i)?;
                    for b in lo.min(hi)..=lo.max(hi) {
                        class.insert(b);
                    }
                } else {
                    class.insert(lo);
                }
            }
        }
    }
    if negate {
        class.negate();
    }
    Ok(class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax() {
        let p = parse("25 50 44 46 '-1.' [30:37] ?? {2} (0A|0D0A) [!00] [&01] *").unwrap();
        assert_eq!(p.len(), 14);
        assert!(matches!(
            p[9],
            Tok::Gap {
                min: 2,
                max: Some(2)
            }
        ));
        assert!(matches!(&p[10], Tok::Alt(a) if a.len() == 2 && a[1].len() == 2));
        assert!(matches!(p[13], Tok::Gap { min: 0, max: None }));
        let dash = parse("['6'-'7']").unwrap();
        assert!(match_at(&dash, b"7", 0).is_some() && match_at(&dash, b"8", 0).is_none());
        assert!(parse("4").is_err());
        assert!(parse("(41|42").is_err());
        assert!(parse("[41").is_err());
        assert!(parse("ZZ").is_err());
    }

    #[test]
    fn matching() {
        let p = parse("'%PDF-1.' [30:37]").unwrap();
        assert!(match_at(&p, b"%PDF-1.4 rest", 0).is_some());
        assert!(match_at(&p, b"%PDF-1.9", 0).is_none());
        assert!(match_at(&p, b"%PDF-1.", 0).is_none(), "runs past the end");
        let p = parse("41 {1-3} 42").unwrap();
        assert_eq!(match_at(&p, b"AxxB", 0), Some(4));
        assert!(match_at(&p, b"AB", 0).is_none());
        assert!(match_at(&p, b"AxxxxB", 0).is_none());
        let p = parse("'ab' * 'yz'").unwrap();
        assert!(match_at(&p, b"ab.........yz", 0).is_some());
        assert!(find(
            &parse("'needle'").unwrap(),
            b"haystack with a needle in it"
        ));
        assert!(!find(&parse("'needle'").unwrap(), b"haystack"));
        let p = parse("(4142|43) 44").unwrap();
        assert!(match_at(&p, b"ABD", 0).is_some() && match_at(&p, b"CD", 0).is_some());
        assert!(match_at(&p, b"AD", 0).is_none());
        let p = parse("[!&01]").unwrap();
        assert!(match_at(&p, &[0x02], 0).is_some());
        assert!(match_at(&p, &[0x03], 0).is_none());
        let r = reversed(&parse("41 (4243|44) 45").unwrap());
        assert!(match_at(&r, b"ECBA", 0).is_some());
        assert!(match_at(&r, b"EDA", 0).is_some());
    }
}
