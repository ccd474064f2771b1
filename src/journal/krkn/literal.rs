//! The few Python literals Krkn writes into `rollback_content = RollbackContent(...)`, read as
//! data: strings, `None`, `True`/`False`, integers, tuples and lists.
//!
//! Krkn renders `namespace`, `resource_identifier` and `cloud_type` as `"{value}"` without any
//! escaping, and `instance_ids` with Python's `repr` of a tuple (single quotes, or double quotes
//! when the text holds a `'`). A backslash in a string would be interpreted by Python as an
//! escape; since no Krkn producer emits one, such a string is refused rather than guessed at.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PyValue {
    Str(String),
    None,
    Bool(bool),
    Int(i64),
    /// A tuple or a list (Krkn's callables treat both as sequences).
    Seq(Vec<PyValue>),
}

impl PyValue {
    pub fn kind(&self) -> &'static str {
        match self {
            PyValue::Str(_) => "a string",
            PyValue::None => "None",
            PyValue::Bool(_) => "a boolean",
            PyValue::Int(_) => "an integer",
            PyValue::Seq(_) => "a tuple",
        }
    }
}

impl fmt::Display for PyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PyValue::Str(s) => write!(f, "{s:?}"),
            PyValue::None => f.write_str("None"),
            PyValue::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            PyValue::Int(i) => write!(f, "{i}"),
            PyValue::Seq(items) => {
                f.write_str("(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Parses `Name(key=value, ...)` and returns the name and the keyword arguments in order.
/// Anything else after the closing parenthesis (other than a `#` comment) is an error.
pub fn parse_call(text: &str) -> Result<(String, Vec<(String, PyValue)>), String> {
    let mut p = Parser { s: text.as_bytes(), text, pos: 0 };
    p.skip_ws();
    let name = p.ident().ok_or("expected a call such as RollbackContent(...)")?;
    p.skip_ws();
    p.expect(b'(')?;
    let mut args = Vec::new();
    loop {
        p.skip_ws();
        if p.eat(b')') {
            break;
        }
        let at = p.pos;
        let key = p.ident().ok_or_else(|| {
            p.error_at(at, "expected key=value (positional arguments are not written by Krkn)")
        })?;
        p.skip_ws();
        if !p.eat(b'=') {
            return Err(p.error_at(at, "positional arguments are not written by Krkn"));
        }
        if args.iter().any(|(k, _)| *k == key) {
            return Err(p.error_at(at, &format!("keyword {key} given twice")));
        }
        let value = p.value(0)?;
        args.push((key, value));
        p.skip_ws();
        if p.eat(b',') {
            continue;
        }
        p.expect(b')')?;
        break;
    }
    p.skip_ws();
    if p.pos < p.s.len() && p.s[p.pos] != b'#' {
        return Err(p.error_at(p.pos, "unexpected text after the call"));
    }
    Ok((name, args))
}

/// Deep enough for Azure's `((vm, group), ...)`; a bound keeps hostile input from recursing.
const MAX_DEPTH: usize = 8;

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error_at(&self, at: usize, what: &str) -> String {
        let near: String = self.text.get(at..).unwrap_or("").chars().take(24).collect();
        format!("{what} at column {} (near {near:?})", at + 1)
    }

    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t') {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.pos) == Some(&b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), String> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.error_at(self.pos, &format!("expected `{}`", b as char)))
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.pos;
        while self.pos < self.s.len()
            && (self.s[self.pos].is_ascii_alphanumeric() || self.s[self.pos] == b'_')
        {
            self.pos += 1;
        }
        let word = &self.text[start..self.pos];
        if word.is_empty() || word.as_bytes()[0].is_ascii_digit() {
            self.pos = start;
            return None;
        }
        Some(word.to_string())
    }

    fn value(&mut self, depth: usize) -> Result<PyValue, String> {
        self.skip_ws();
        let at = self.pos;
        match self.s.get(self.pos) {
            Some(b'"') | Some(b'\'') => self.string(),
            Some(b'(') => self.seq(b')', depth),
            Some(b'[') => self.seq(b']', depth),
            Some(b'-') | Some(b'0'..=b'9') => self.int(),
            Some(_) => match self.ident().as_deref() {
                Some("None") => Ok(PyValue::None),
                Some("True") => Ok(PyValue::Bool(true)),
                Some("False") => Ok(PyValue::Bool(false)),
                _ => Err(self.error_at(at, "expected a string, None, True, False or a tuple")),
            },
            None => Err(self.error_at(at, "the line ends inside the call")),
        }
    }

    fn string(&mut self) -> Result<PyValue, String> {
        let at = self.pos;
        let quote = self.s[self.pos];
        self.pos += 1;
        let start = self.pos;
        while self.pos < self.s.len() && self.s[self.pos] != quote {
            if self.s[self.pos] == b'\\' {
                return Err(self.error_at(
                    self.pos,
                    "backslash in a string (Krkn never writes escapes; refusing to guess)",
                ));
            }
            self.pos += 1;
        }
        if self.pos >= self.s.len() {
            return Err(self.error_at(at, "unterminated string"));
        }
        let value = self.text[start..self.pos].to_string();
        self.pos += 1;
        // Adjacent literals ("a" "b") are legal Python but never Krkn's output: refuse them.
        self.skip_ws();
        if matches!(self.s.get(self.pos), Some(b'"') | Some(b'\'')) {
            return Err(self.error_at(self.pos, "a quote right after a string (unescaped quote?)"));
        }
        Ok(PyValue::Str(value))
    }

    fn int(&mut self) -> Result<PyValue, String> {
        let at = self.pos;
        if self.s[self.pos] == b'-' {
            self.pos += 1;
        }
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        self.text[at..self.pos]
            .parse()
            .map(PyValue::Int)
            .map_err(|_| self.error_at(at, "not an integer"))
    }

    fn seq(&mut self, close: u8, depth: usize) -> Result<PyValue, String> {
        if depth >= MAX_DEPTH {
            return Err(self.error_at(self.pos, "tuples nested too deeply"));
        }
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(close) {
                return Ok(PyValue::Seq(items));
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            if self.eat(b',') {
                continue;
            }
            self.expect(close)?;
            // `(x)` is just x in Python, not a tuple; Krkn's repr always writes `(x,)`.
            if close == b')' && items.len() == 1 {
                return Err(self.error_at(self.pos - 1, "`(x)` is not a tuple; expected `(x,)`"));
            }
            return Ok(PyValue::Seq(items));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_krkns_rendering() {
        let (name, args) = parse_call(
            r#"RollbackContent(namespace=None, resource_identifier="", cloud_type="aws", instance_ids=('i-1', "it's"), skip_kubernetes=True)"#,
        )
        .unwrap();
        assert_eq!(name, "RollbackContent");
        assert_eq!(args[0], ("namespace".into(), PyValue::None));
        assert_eq!(args[1].1, PyValue::Str(String::new()));
        assert_eq!(
            args[3].1,
            PyValue::Seq(vec![PyValue::Str("i-1".into()), PyValue::Str("it's".into())])
        );
        assert_eq!(args[4].1, PyValue::Bool(true));
    }

    #[test]
    fn tuples_single_empty_and_nested() {
        let (_, args) = parse_call("C(a=('x',), b=(), c=(('vm', 'rg'),), d=[1, -2])").unwrap();
        assert_eq!(args[0].1, PyValue::Seq(vec![PyValue::Str("x".into())]));
        assert_eq!(args[1].1, PyValue::Seq(vec![]));
        assert_eq!(args[3].1, PyValue::Seq(vec![PyValue::Int(1), PyValue::Int(-2)]));
        assert!(parse_call("C(a=('x'))").is_err());
    }

    #[test]
    fn refuses_what_krkn_does_not_write() {
        for bad in [
            r#"C("x")"#,
            r#"C(a="x\"y")"#,
            r#"C(a="x"y")"#,
            r#"C(a="x", a="y")"#,
            r#"C(a="x") + 1"#,
            r#"C(a=os.system("x"))"#,
            r#"C(a="x""#,
            "C(a=(((((((((1,),),),),),),),),))",
        ] {
            assert!(parse_call(bad).is_err(), "{bad}");
        }
        assert!(parse_call(r#"C(a="x")  # note"#).is_ok());
    }
}
