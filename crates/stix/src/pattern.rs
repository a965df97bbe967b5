//! Syntax check of STIX patterns (`pattern_type: "stix"`), following the
//! grammar of STIX 2.1 section 9 (STIXPattern.g4). Consumers such as the OASIS
//! validator reject indicators whose pattern does not parse, so a server that
//! accepted them would hand out objects its clients refuse.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str,
    Timestamp,
    Int,
    Float,
    Bytes,
    Bool,
    Punct(&'static str),
}

const PUNCT: &[&str] = &[
    "<=", ">=", "!=", "<>", "==", "[", "]", "(", ")", ":", ".", ",", "=", "<", ">", "*",
];

/// Checks that `pattern` is a syntactically valid STIX pattern.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    let tokens = tokenize(pattern)?;
    let mut p = Parser { tokens, pos: 0 };
    p.observation_expressions()?;
    match p.peek() {
        None => Ok(()),
        Some(t) => Err(format!("unexpected {t:?} after the end of the pattern")),
    }
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            i = quoted(&chars, i)?;
            tokens.push(Tok::Str);
        } else if matches!(c, 'b' | 'h' | 't') && chars.get(i + 1) == Some(&'\'') {
            let end = quoted(&chars, i + 1)?;
            let body: String = chars[i + 2..end - 1].iter().collect();
            tokens.push(typed_literal(c, &body)?);
            i = end;
        } else if c.is_ascii_digit() || (matches!(c, '-' | '+') && next_is_digit(&chars, i)) {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let number: String = chars[start..i].iter().collect();
            tokens.push(number_token(&number)?);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '-'))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push(if word == "true" || word == "false" {
                Tok::Bool
            } else {
                Tok::Ident(word)
            });
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let p = PUNCT
                .iter()
                .find(|p| rest.starts_with(**p))
                .ok_or_else(|| format!("unexpected character {c:?}"))?;
            tokens.push(Tok::Punct(p));
            i += p.len();
        }
    }
    Ok(tokens)
}

fn next_is_digit(chars: &[char], i: usize) -> bool {
    chars.get(i + 1).is_some_and(char::is_ascii_digit)
}

/// Index just past the closing quote of the string starting at `open`.
fn quoted(chars: &[char], open: usize) -> Result<usize, String> {
    let mut i = open + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if matches!(chars.get(i + 1), Some('\'' | '\\')) => i += 2,
            '\\' => return Err("invalid escape in string literal".into()),
            '\'' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err("unterminated string literal".into())
}

fn typed_literal(kind: char, body: &str) -> Result<Tok, String> {
    let ok = match kind {
        't' => crate::parse_timestamp(body).is_some(),
        'h' => body.len().is_multiple_of(2) && body.chars().all(|c| c.is_ascii_hexdigit()),
        _ => body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')),
    };
    match (ok, kind) {
        (false, _) => Err(format!("invalid {kind}'...' literal")),
        (true, 't') => Ok(Tok::Timestamp),
        (true, _) => Ok(Tok::Bytes),
    }
}

fn number_token(text: &str) -> Result<Tok, String> {
    let digits = text.trim_start_matches(['-', '+']);
    match text.split_once('.') {
        // The grammar allows no leading zeros on integers.
        None if digits.len() > 1 && digits.starts_with('0') => {
            Err(format!("invalid integer {text:?}"))
        }
        None => Ok(Tok::Int),
        Some((_, fraction)) if !fraction.is_empty() && !fraction.contains('.') => Ok(Tok::Float),
        _ => Err(format!("invalid number {text:?}")),
    }
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Result<Tok, String> {
        let t = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or_else(|| "pattern ends too early".to_string())?;
        self.pos += 1;
        Ok(t)
    }

    fn is_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w == word)
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }

    fn expect_punct(&mut self, p: &str) -> Result<(), String> {
        match self.next()? {
            Tok::Punct(q) if q == p => Ok(()),
            t => Err(format!("expected '{p}', found {t:?}")),
        }
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), String> {
        match self.next()? {
            Tok::Ident(w) if w == word => Ok(()),
            t => Err(format!("expected {word}, found {t:?}")),
        }
    }

    /// A chain of `item` joined by the keyword `joiner`.
    fn joined(
        &mut self,
        joiner: &str,
        item: fn(&mut Parser) -> Result<(), String>,
    ) -> Result<(), String> {
        item(self)?;
        while self.is_keyword(joiner) {
            self.pos += 1;
            item(self)?;
        }
        Ok(())
    }

    fn observation_expressions(&mut self) -> Result<(), String> {
        self.joined("FOLLOWEDBY", |p| {
            p.joined("OR", |p| p.joined("AND", Parser::observation_expression))
        })
    }

    fn observation_expression(&mut self) -> Result<(), String> {
        if self.is_punct("[") {
            self.pos += 1;
            self.comparison_expression()?;
            self.expect_punct("]")?;
        } else {
            self.expect_punct("(")?;
            self.observation_expressions()?;
            self.expect_punct(")")?;
        }
        self.qualifiers()
    }

    fn qualifiers(&mut self) -> Result<(), String> {
        loop {
            if self.is_keyword("START") {
                self.pos += 1;
                self.expect_tok(Tok::Timestamp)?;
                self.expect_keyword("STOP")?;
                self.expect_tok(Tok::Timestamp)?;
            } else if self.is_keyword("WITHIN") {
                self.pos += 1;
                match self.next()? {
                    Tok::Int | Tok::Float => {}
                    t => return Err(format!("WITHIN needs a number, found {t:?}")),
                }
                self.expect_keyword("SECONDS")?;
            } else if self.is_keyword("REPEATS") {
                self.pos += 1;
                self.expect_tok(Tok::Int)?;
                self.expect_keyword("TIMES")?;
            } else {
                return Ok(());
            }
        }
    }

    fn expect_tok(&mut self, want: Tok) -> Result<(), String> {
        let t = self.next()?;
        if t == want {
            Ok(())
        } else {
            Err(format!("expected {want:?}, found {t:?}"))
        }
    }

    fn comparison_expression(&mut self) -> Result<(), String> {
        self.joined("OR", |p| p.joined("AND", Parser::prop_test))
    }

    fn prop_test(&mut self) -> Result<(), String> {
        if self.is_punct("(") {
            self.pos += 1;
            self.comparison_expression()?;
            return self.expect_punct(")");
        }
        if self.is_keyword("EXISTS") {
            self.pos += 1;
            return self.object_path();
        }
        self.object_path()?;
        if self.is_keyword("NOT") {
            self.pos += 1;
        }
        match self.next()? {
            Tok::Punct("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") => self.literal(),
            Tok::Ident(w) if w == "IN" => self.set_literal(),
            Tok::Ident(w)
                if ["LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"].contains(&w.as_str()) =>
            {
                self.expect_tok(Tok::Str)
            }
            t => Err(format!("expected a comparison operator, found {t:?}")),
        }
    }

    fn literal(&mut self) -> Result<(), String> {
        match self.next()? {
            Tok::Str | Tok::Timestamp | Tok::Int | Tok::Float | Tok::Bytes | Tok::Bool => Ok(()),
            t => Err(format!("expected a literal, found {t:?}")),
        }
    }

    fn set_literal(&mut self) -> Result<(), String> {
        self.expect_punct("(")?;
        if self.is_punct(")") {
            self.pos += 1;
            return Ok(());
        }
        self.literal()?;
        while self.is_punct(",") {
            self.pos += 1;
            self.literal()?;
        }
        self.expect_punct(")")
    }

    fn object_path(&mut self) -> Result<(), String> {
        match self.next()? {
            Tok::Ident(_) => {}
            t => return Err(format!("expected an object type, found {t:?}")),
        }
        self.expect_punct(":")?;
        self.path_step()?;
        loop {
            if self.is_punct(".") {
                self.pos += 1;
                self.path_step()?;
            } else if self.is_punct("[") {
                self.pos += 1;
                match self.next()? {
                    Tok::Int | Tok::Punct("*") => {}
                    t => return Err(format!("expected an index or '*', found {t:?}")),
                }
                self.expect_punct("]")?;
            } else {
                return Ok(());
            }
        }
    }

    fn path_step(&mut self) -> Result<(), String> {
        match self.next()? {
            Tok::Ident(w) if !w.contains('-') => Ok(()),
            Tok::Str => Ok(()),
            t => Err(format!("expected a property name, found {t:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_spec_examples() {
        for p in [
            "[ipv4-addr:value = '198.51.100.1']",
            "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
            "[email-message:from_ref.value MATCHES '.+\\\\@example\\\\.com$' AND email-message:body_multipart[*].body_raw_ref.name LIKE 'pdf%']",
            "[ipv4-addr:value = '203.0.113.1' OR ipv4-addr:value = '203.0.113.2']",
            "([file:name = 'foo.dll'] AND [process:name = 'x']) WITHIN 300 SECONDS",
            "[file:size > 1024] REPEATS 5 TIMES",
            "[network-traffic:dst_port IN (443, 8443)] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
            "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\foo' AND windows-registry-key:values[0].name NOT = 'x']",
            "[artifact:payload_bin = b'ZXhhbXBsZQ=='] FOLLOWEDBY [x509-certificate:serial_number = h'ff00']",
            "[file:name = 'it\\'s'] AND [process:pid = -1]",
            "[x-custom:flag = true]",
        ] {
            assert_eq!(check_pattern(p), Ok(()), "{p}");
        }
        assert_eq!(
            check_pattern("[process:pid = 1 OR EXISTS process:name]"),
            Ok(())
        );
    }

    #[test]
    fn rejects_malformed_patterns() {
        for p in [
            "garbage",
            "",
            "[ipv4-addr:value = '198.51.100.1'",
            "ipv4-addr:value = '1.2.3.4'",
            "[ipv4-addr:value == ]",
            "[ipv4-addr:value = 'unterminated]",
            "[ipv4-addr value = '1']",
            "[file:size > 10] WITHIN SECONDS",
            "[file:name = 'a'] AND",
            "[file:created = t'yesterday']",
            "[file:hash = h'abc']",
            "[file:name = 'a'] [file:name = 'b']",
            "[file:bad-name = 'a']",
            "[file:size > 024]",
        ] {
            assert!(check_pattern(p).is_err(), "{p}");
        }
    }
}
