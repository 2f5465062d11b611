//! The statement lexer (MySQL's tokens, comments, quoting) and the parser's cursor.

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tk {
    Word(String),
    Quoted(String),
    Str(String),
    Num(String),
    SysVar(String),
    UserVar(String),
    Sym(char),
}

#[derive(Debug, Clone)]
pub(super) struct Tok {
    pub(super) t: Tk,
    pub(super) at: usize,
    pub(super) end: usize,
}

/// Tokenizes; Err(offset) at a character no statement can contain.
pub(super) fn lex(q: &str) -> Result<Vec<Tok>, usize> {
    let b: Vec<char> = q.chars().collect();
    // Byte offsets of each char.
    let offs: Vec<usize> = q.char_indices().map(|(i, _)| i).chain([q.len()]).collect();
    let mut i = 0;
    let mut out = Vec::new();
    let word_char = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#'
            || (c == '-'
                && b.get(i + 1) == Some(&'-')
                && b.get(i + 2).is_none_or(|c| c.is_whitespace()))
        {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && b.get(i + 1) == Some(&'*') {
            i += 2;
            while i < b.len() && !(b[i] == '*' && b.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i = (i + 2).min(b.len());
            continue;
        }
        let t = if c == '\'' || c == '"' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&ch) = b.get(i) else {
                    return Err(offs[start]);
                };
                if ch == quote {
                    if b.get(i + 1) == Some(&quote) {
                        s.push(quote);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                if ch == '\\' {
                    let Some(&n) = b.get(i + 1) else {
                        return Err(offs[start]);
                    };
                    match n {
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        '0' => s.push('\0'),
                        'b' => s.push('\u{8}'),
                        'Z' => s.push('\u{1a}'),
                        '%' | '_' => {
                            s.push('\\');
                            s.push(n);
                        }
                        other => s.push(other),
                    }
                    i += 2;
                    continue;
                }
                s.push(ch);
                i += 1;
            }
            Tk::Str(s)
        } else if c == '`' {
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&ch) = b.get(i) else {
                    return Err(offs[start]);
                };
                if ch == '`' {
                    if b.get(i + 1) == Some(&'`') {
                        s.push('`');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                s.push(ch);
                i += 1;
            }
            Tk::Quoted(s)
        } else if c == '@' && b.get(i + 1) == Some(&'@') {
            i += 2;
            let s0 = i;
            while i < b.len() && (word_char(b[i]) || b[i] == '.') {
                i += 1;
            }
            if i == s0 {
                return Err(offs[start]);
            }
            Tk::SysVar(b[s0..i].iter().collect())
        } else if c == '@' {
            i += 1;
            let s0 = i;
            while i < b.len() && word_char(b[i]) {
                i += 1;
            }
            Tk::UserVar(b[s0..i].iter().collect())
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == '.') {
                i += 1;
            }
            if i < b.len() && word_char(b[i]) {
                while i < b.len() && word_char(b[i]) {
                    i += 1;
                }
                Tk::Word(b[start..i].iter().collect())
            } else {
                Tk::Num(b[start..i].iter().collect())
            }
        } else if word_char(c) {
            while i < b.len() && word_char(b[i]) {
                i += 1;
            }
            Tk::Word(b[start..i].iter().collect())
        } else if "=,();.-+*<>!:".contains(c) {
            i += 1;
            Tk::Sym(c)
        } else {
            return Err(offs[start]);
        };
        out.push(Tok {
            t,
            at: offs[start],
            end: offs[i],
        });
    }
    // A trailing ';' ends the statement.
    if matches!(
        out.last(),
        Some(Tok {
            t: Tk::Sym(';'),
            ..
        })
    ) {
        out.pop();
    }
    Ok(out)
}

/// Parse failure at a byte offset.
pub(super) type PResult<T> = Result<T, usize>;

pub(super) struct Parser<'a> {
    pub(super) toks: &'a [Tok],
    pub(super) i: usize,
    pub(super) qlen: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(toks: &'a [Tok], qlen: usize) -> Self {
        Parser { toks, i: 0, qlen }
    }

    pub(super) fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(self.qlen, |t| t.at)
    }

    pub(super) fn fail<T>(&self) -> PResult<T> {
        Err(self.pos())
    }

    pub(super) fn peek(&self) -> Option<&'a Tk> {
        self.toks.get(self.i).map(|t| &t.t)
    }

    pub(super) fn peek_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tk::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    pub(super) fn kw(&mut self, kw: &str) -> bool {
        if self.peek_kw(kw) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn expect_kw(&mut self, kw: &str) -> PResult<()> {
        if self.kw(kw) { Ok(()) } else { self.fail() }
    }

    pub(super) fn sym(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tk::Sym(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn expect_sym(&mut self, c: char) -> PResult<()> {
        if self.sym(c) { Ok(()) } else { self.fail() }
    }

    pub(super) fn string(&mut self) -> PResult<String> {
        match self.peek() {
            Some(Tk::Str(s)) => {
                self.i += 1;
                Ok(s.clone())
            }
            _ => self.fail(),
        }
    }

    pub(super) fn opt_string(&mut self) -> Option<String> {
        match self.peek() {
            Some(Tk::Str(s)) => {
                self.i += 1;
                Some(s.clone())
            }
            _ => None,
        }
    }

    pub(super) fn uint(&mut self) -> PResult<u64> {
        match self.peek() {
            Some(Tk::Num(n)) if !n.contains('.') => {
                let v = n.parse().map_err(|_| self.pos())?;
                self.i += 1;
                Ok(v)
            }
            _ => self.fail(),
        }
    }

    pub(super) fn end(&self) -> PResult<()> {
        if self.i == self.toks.len() {
            Ok(())
        } else {
            self.fail()
        }
    }
}
