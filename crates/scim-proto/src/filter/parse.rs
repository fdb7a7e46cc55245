//! A recursive-descent parser for filters (RFC 7644 §3.4.2.2), PATCH paths (§3.5.2) and
//! attribute paths (§3.10).
//!
//! ```text
//! filter    = and *("or" and)                      ; a chain is one Or node
//! and       = unary *("and" unary)                 ; a chain is one And node
//! unary     = "(" filter ")" / "not" [ws] "(" filter ")" / attrExp
//! attrExp   = attrPath "[" valFilter "]" ["." name (SP "pr" / SP op SP value)]
//!           / attrPath SP "pr" / attrPath SP op SP value
//! attrPath  = [urn ":"] name ["." name]            ; urn: everything before the last ':'
//! name      = ALPHA *(ALPHA / DIGIT / "-" / "_") / "$ref"
//! ```
//!
//! Keywords and operators are case-insensitive. `not` is a keyword only before `(`, so an
//! attribute may be called `not` (or `and`, `pr`, …). Recursion happens only at `(`, `not (`
//! and `[`, and each of those checks the depth first, so the stack stays bounded whatever the
//! input.

use std::fmt;

use super::{AttrPath, CompareOp, Filter, Literal, PatchPath, MAX_DEPTH, MAX_LEN};
use crate::error::quote;

/// A parse failure, already worded for the client (position, what was expected, what was found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SyntaxError(pub String);

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

type PResult<T> = Result<T, SyntaxError>;

/// Parses a whole filter.
pub(super) fn filter(input: &str) -> PResult<Filter> {
    let mut p = Parser::new(input, "filter")?;
    let filter = p.or_expr(false)?;
    p.finish("'and', 'or' or the end of the filter")?;
    Ok(filter)
}

/// Parses a whole PATCH path: `attrPath`, `attrPath[valFilter]` or `attrPath[valFilter].sub`.
pub(super) fn patch_path(input: &str) -> PResult<PatchPath> {
    let mut p = Parser::new(input, "path")?;
    let attr = p.attr_path()?;
    let mut path = PatchPath {
        attr,
        filter: None,
        sub: None,
    };
    if p.peek() == Some('[') {
        path.filter = Some(p.value_filter(&path.attr)?);
        if p.peek() == Some('.') {
            p.pos += 1;
            path.sub = Some(p.name()?);
            p.finish("the end of the path")?;
        } else {
            p.finish("'.' and a sub-attribute, or the end of the path")?;
        }
    } else {
        p.finish("'[' or the end of the path")?;
    }
    Ok(path)
}

/// Parses a whole attribute path.
pub(super) fn attr_path(input: &str) -> PResult<AttrPath> {
    let mut p = Parser::new(input, "attribute path")?;
    let path = p.attr_path()?;
    p.finish("the end of the attribute path")?;
    Ok(path)
}

/// Characters of an attribute path token (a schema URN, names, dots) and of keywords.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-' | '$' | '/' | '%')
}

/// `ATTRNAME = ALPHA *(nameChar)`, or `$ref`.
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    s.eq_ignore_ascii_case("$ref")
        || (chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

const NAME_RULE: &str = "a letter followed by letters, digits, '-' or '_'";

fn operator(word: &str) -> Option<CompareOp> {
    CompareOp::ALL
        .into_iter()
        .find(|op| word.eq_ignore_ascii_case(op.as_str()))
}

/// Splits an attribute path token into its parts; on error, the byte offset in the token of
/// the faulty part and what was expected there.
fn split_path(token: &str) -> Result<AttrPath, (usize, String)> {
    if token.is_empty() {
        return Err((0, "expected an attribute path".into()));
    }
    let (urn, rest, rest_at) = match token.rfind(':') {
        Some(0) => return Err((0, "expected a schema URN before ':'".into())),
        Some(i) => (Some(&token[..i]), &token[i + 1..], i + 1),
        None => (None, token, 0),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    if !is_name(name) {
        return Err((rest_at, format!("expected an attribute name ({NAME_RULE})")));
    }
    if let Some(sub) = sub {
        if !is_name(sub) {
            let at = rest_at + name.len() + 1;
            return Err((at, format!("expected a sub-attribute name ({NAME_RULE})")));
        }
    }
    Ok(AttrPath {
        urn: urn.map(str::to_string),
        name: name.to_string(),
        sub: sub.map(str::to_string),
    })
}

pub(super) struct Parser<'a> {
    src: &'a str,
    /// Byte offset of the next unread character.
    pos: usize,
    /// How many `(`, `not (` and `[` enclose the current position.
    depth: usize,
    /// What is being parsed, for messages: "filter", "path", "attribute path".
    what: &'static str,
}

impl<'a> Parser<'a> {
    /// A parser over `src`, which must be non-blank and at most [`MAX_LEN`] bytes.
    fn new(src: &'a str, what: &'static str) -> PResult<Self> {
        if src.len() > MAX_LEN {
            return Err(SyntaxError(format!(
                "{what} too long: {} bytes, at most {MAX_LEN} are accepted",
                src.len()
            )));
        }
        if src
            .trim_matches(|c: char| c.is_ascii_whitespace())
            .is_empty()
        {
            return Err(SyntaxError(format!("{what} is empty")));
        }
        let mut p = Self::unbounded(src, what);
        p.skip_ws();
        Ok(p)
    }

    /// A parser without the length check (tests use it to probe the depth limit alone).
    pub(super) fn unbounded(src: &'a str, what: &'static str) -> Self {
        Parser {
            src,
            pos: 0,
            depth: 0,
            what,
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        self.pos = self.after_ws(self.pos);
    }

    /// The run of token characters at `at` (possibly empty).
    fn token_at(&self, at: usize) -> &'a str {
        let rest = &self.src[at..];
        &rest[..rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len())]
    }

    /// Where the next non-blank character is, from `at`.
    fn after_ws(&self, at: usize) -> usize {
        let rest = &self.src[at..];
        at + rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_whitespace())
                .len()
    }

    /// An error at byte offset `at`: what was expected, and the input found there (shortened).
    fn error(&self, at: usize, expected: impl fmt::Display) -> SyntaxError {
        let position = self.src[..at].chars().count();
        let rest = &self.src[at..];
        let found = if rest.is_empty() {
            "the end of the input".to_string()
        } else {
            quote(rest)
        };
        SyntaxError(format!(
            "invalid {} at position {position}: {expected}, found {found}",
            self.what
        ))
    }

    /// Consumes the keyword `kw` (case-insensitive) if it comes next.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        let at = self.after_ws(self.pos);
        let word = self.token_at(at);
        if word.eq_ignore_ascii_case(kw) {
            self.pos = at + word.len();
            true
        } else {
            false
        }
    }

    /// Consumes `close` (after optional blanks), or fails saying what could have come instead.
    fn expect_close(&mut self, close: char) -> PResult<()> {
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(self.pos, format_args!("expected 'and', 'or' or '{close}'")))
        }
    }

    /// Succeeds at the end of the input (trailing blanks allowed).
    fn finish(&mut self, expected: &str) -> PResult<()> {
        self.skip_ws();
        if self.pos == self.src.len() {
            Ok(())
        } else {
            Err(self.error(self.pos, format_args!("expected {expected}")))
        }
    }

    /// Enters one nesting level, refusing to go deeper than [`MAX_DEPTH`].
    fn enter(&mut self, at: usize) -> PResult<()> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(
                at,
                format_args!(
                    "nesting deeper than {MAX_DEPTH} levels (parentheses, 'not' and value filters)"
                ),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// `and *("or" and)`
    pub(super) fn or_expr(&mut self, in_value: bool) -> PResult<Filter> {
        let first = self.and_expr(in_value)?;
        if !self.eat_keyword("or") {
            return Ok(first);
        }
        let mut terms = vec![first];
        loop {
            terms.push(self.and_expr(in_value)?);
            if !self.eat_keyword("or") {
                return Ok(Filter::Or(terms));
            }
        }
    }

    /// `unary *("and" unary)`
    fn and_expr(&mut self, in_value: bool) -> PResult<Filter> {
        let first = self.unary(in_value)?;
        if !self.eat_keyword("and") {
            return Ok(first);
        }
        let mut terms = vec![first];
        loop {
            terms.push(self.unary(in_value)?);
            if !self.eat_keyword("and") {
                return Ok(Filter::And(terms));
            }
        }
    }

    /// `"(" filter ")"`, `"not" "(" filter ")"` or an attribute expression.
    fn unary(&mut self, in_value: bool) -> PResult<Filter> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some('(') {
            return self.group(start, start + 1, in_value);
        }
        let word = self.token_at(start);
        if word.eq_ignore_ascii_case("not") {
            let next = self.after_ws(start + word.len());
            let rest = &self.src[next..];
            if rest.starts_with('(') {
                return Ok(Filter::Not(Box::new(self.group(
                    start,
                    next + 1,
                    in_value,
                )?)));
            }
            // Otherwise `not` is an attribute name, which an operator or a '[' must follow.
            let after = self.token_at(next);
            let attribute = rest.starts_with('[')
                || after.eq_ignore_ascii_case("pr")
                || operator(after).is_some();
            if !attribute {
                return Err(self.error(next, "expected '(' after 'not'"));
            }
        }
        if word.is_empty() {
            return Err(self.error(start, "expected an attribute path, '(' or 'not ('"));
        }
        self.attr_expr(in_value)
    }

    /// A parenthesized filter whose `(` is at `open`; `body` is where its content starts.
    fn group(&mut self, open: usize, body: usize, in_value: bool) -> PResult<Filter> {
        self.enter(open)?;
        self.pos = body;
        let inner = self.or_expr(in_value)?;
        self.expect_close(')')?;
        self.leave();
        Ok(inner)
    }

    /// `attrPath "[" valFilter "]" ["." name condition]` or `attrPath condition`.
    fn attr_expr(&mut self, in_value: bool) -> PResult<Filter> {
        let path = self.attr_path()?;
        if self.peek() != Some('[') {
            return self.condition(path);
        }
        if in_value {
            return Err(self.error(
                self.pos,
                "expected an operator: value filters cannot be nested",
            ));
        }
        let open = self.pos;
        let mut inner = self.value_filter(&path)?;
        if self.peek() == Some('.') {
            // `emails[type eq "work"].value eq "x"` means `emails[type eq "work" and value eq "x"]`.
            self.pos += 1;
            let sub = self.name()?;
            let condition = self.condition(AttrPath {
                urn: None,
                name: sub,
                sub: None,
            })?;
            inner = match inner {
                Filter::And(mut terms) => {
                    terms.push(condition);
                    Filter::And(terms)
                }
                other => Filter::And(vec![other, condition]),
            };
        }
        let node = Filter::ValuePath {
            path,
            filter: Box::new(inner),
        };
        // The rewrite above may need parentheses the input did not have: the printed form must
        // stay within the depth limit too, or it would not parse back.
        if self.depth + node.printed_depth() > MAX_DEPTH {
            return Err(self.error(
                open,
                format_args!(
                    "nesting deeper than {MAX_DEPTH} levels (parentheses, 'not' and value filters)"
                ),
            ));
        }
        Ok(node)
    }

    /// `"[" valFilter "]"` after `path`, the `[` being next.
    fn value_filter(&mut self, path: &AttrPath) -> PResult<Filter> {
        let open = self.pos;
        if path.sub.is_some() {
            return Err(self.error(
                open,
                "expected an operator: a value filter follows an attribute, not a sub-attribute",
            ));
        }
        self.enter(open)?;
        self.pos += 1;
        let inner = self.or_expr(true)?;
        self.expect_close(']')?;
        self.leave();
        Ok(inner)
    }

    /// `SP "pr"` or `SP op SP value`, after `path`.
    fn condition(&mut self, path: AttrPath) -> PResult<Filter> {
        self.skip_ws();
        let word = self.token_at(self.pos);
        if word.eq_ignore_ascii_case("pr") {
            self.pos += word.len();
            return Ok(Filter::Present(path));
        }
        let Some(op) = operator(word) else {
            return Err(self.error(
                self.pos,
                "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr)",
            ));
        };
        self.pos += word.len();
        let value = self.literal()?;
        Ok(Filter::Compare { path, op, value })
    }

    /// An attribute path token.
    fn attr_path(&mut self) -> PResult<AttrPath> {
        let start = self.pos;
        let token = self.token_at(start);
        let path = split_path(token).map_err(|(at, expected)| self.error(start + at, expected))?;
        self.pos += token.len();
        Ok(path)
    }

    /// A bare attribute name (the sub-attribute after `]`).
    fn name(&mut self) -> PResult<String> {
        let token = self.token_at(self.pos);
        if !is_name(token) {
            return Err(self.error(
                self.pos,
                format_args!("expected a sub-attribute name ({NAME_RULE})"),
            ));
        }
        self.pos += token.len();
        Ok(token.to_string())
    }

    /// `compValue = false / null / true / number / string`
    fn literal(&mut self) -> PResult<Literal> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some('"') => self.string(),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let rest = self.rest();
                let len = rest
                    .find(|c: char| !matches!(c, '0'..='9' | '-' | '+' | '.' | 'e' | 'E'))
                    .unwrap_or(rest.len());
                let text = &rest[..len];
                let mut number = serde_json::from_str::<serde_json::Number>(text)
                    .map_err(|_| self.error(start, "expected a JSON number"))?;
                if number.is_f64() {
                    // serde_json rounds some decimals approximately; the standard library
                    // rounds exactly, so printed floats parse back to the same value.
                    if let Some(exact) = text
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                    {
                        number = exact;
                    }
                }
                self.pos += len;
                Ok(Literal::Number(number))
            }
            _ => {
                let word = self.token_at(start);
                let literal = if word.eq_ignore_ascii_case("true") {
                    Literal::Bool(true)
                } else if word.eq_ignore_ascii_case("false") {
                    Literal::Bool(false)
                } else if word.eq_ignore_ascii_case("null") {
                    Literal::Null
                } else {
                    return Err(self.error(
                        start,
                        "expected a value (a JSON string, a number, true, false or null)",
                    ));
                };
                self.pos += word.len();
                Ok(literal)
            }
        }
    }

    /// A JSON string, the opening quote being next.
    fn string(&mut self) -> PResult<Literal> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        // Find the closing quote; an escape skips the byte after the backslash. Multi-byte
        // characters hold no ASCII byte, so `i` lands on a quote only at a character boundary.
        let end = loop {
            match bytes.get(i) {
                None => return Err(self.error(start, "unterminated string")),
                Some(b'\\') => i += 2,
                Some(b'"') => break i,
                Some(_) => i += 1,
            }
        };
        let text = &self.src[start..=end];
        let value = serde_json::from_str::<String>(text).map_err(|e| {
            // The error's line and column count from the opening quote: leave them out.
            let message = e.to_string();
            let reason = message.split(" at line ").next().unwrap_or(&message);
            self.error(start, format_args!("invalid JSON string ({reason})"))
        })?;
        if value.contains('\0') {
            // No stored value holds it (resources refuse it), and no database takes it.
            return Err(self.error(start, "a string may not contain the NUL character (U+0000)"));
        }
        self.pos = end + 1;
        Ok(Literal::String(value))
    }
}
