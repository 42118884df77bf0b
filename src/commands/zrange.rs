//! The ranges of the sorted-set commands: score bounds ([`ScoreBound`]),
//! lexicographic bounds ([`LexBound`]) and the whole `ZRANGE` specification
//! ([`ZRange`]: by index, score or lex, `REV`, `LIMIT`).
//!
//! Pure: builds arguments only. Not here: the commands (`sorted_sets`).

use bytes::Bytes;

use crate::cmd::{Cmd, ToArg};

/// A score bound of `ZCOUNT`, `ZRANGE ... BYSCORE`: inclusive (`1.5`) or
/// exclusive (`(1.5`); `f64::INFINITY` and `f64::NEG_INFINITY` are the ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScoreBound {
    /// The score itself is in range.
    Inclusive(f64),
    /// The score itself is not (`(score`).
    Exclusive(f64),
}

impl ScoreBound {
    /// `-inf`: below every score.
    pub const MIN: ScoreBound = ScoreBound::Inclusive(f64::NEG_INFINITY);
    /// `+inf`: above every score.
    pub const MAX: ScoreBound = ScoreBound::Inclusive(f64::INFINITY);
}

impl From<f64> for ScoreBound {
    fn from(score: f64) -> ScoreBound {
        ScoreBound::Inclusive(score)
    }
}

fn score_text(score: f64) -> String {
    if score.is_infinite() {
        if score > 0.0 { "+inf" } else { "-inf" }.to_string()
    } else {
        format!("{score}")
    }
}

impl ToArg for ScoreBound {
    fn write_arg(&self, cmd: &mut Cmd) {
        match self {
            ScoreBound::Inclusive(s) => cmd.push_bytes(score_text(*s).as_bytes()),
            ScoreBound::Exclusive(s) => cmd.push_bytes(format!("({}", score_text(*s)).as_bytes()),
        }
    }
}

/// A lexicographic bound of `ZLEXCOUNT`, `ZRANGE ... BYLEX` (members of equal score).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `[member`: the member itself is in range.
    Inclusive(Bytes),
    /// `(member`: it is not.
    Exclusive(Bytes),
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
}

impl ToArg for LexBound {
    fn write_arg(&self, cmd: &mut Cmd) {
        let prefixed = |p: u8, m: &Bytes| {
            let mut v = Vec::with_capacity(m.len() + 1);
            v.push(p);
            v.extend_from_slice(m);
            v
        };
        match self {
            LexBound::Inclusive(m) => cmd.push_bytes(&prefixed(b'[', m)),
            LexBound::Exclusive(m) => cmd.push_bytes(&prefixed(b'(', m)),
            LexBound::Min => cmd.push_bytes(b"-"),
            LexBound::Max => cmd.push_bytes(b"+"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum RangeBy {
    Index(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound, LexBound),
}

/// The range of `ZRANGE`/`ZRANGESTORE`: by index, score or lex, optionally
/// reversed and limited.
///
/// `start` and `stop` go to the server as given: with [`ZRange::rev`], the
/// start is the *higher* end (`ZRange::by_score(10.0, 1.0).rev()`).
#[derive(Debug, Clone, PartialEq)]
pub struct ZRange {
    by: RangeBy,
    rev: bool,
    limit: Option<(i64, i64)>,
}

impl ZRange {
    /// By rank: `start` to `stop` included, negative from the end.
    pub fn by_index(start: i64, stop: i64) -> ZRange {
        ZRange { by: RangeBy::Index(start, stop), rev: false, limit: None }
    }

    /// `BYSCORE`: members with scores between the bounds.
    pub fn by_score(start: impl Into<ScoreBound>, stop: impl Into<ScoreBound>) -> ZRange {
        ZRange { by: RangeBy::Score(start.into(), stop.into()), rev: false, limit: None }
    }

    /// `BYLEX`: members between the bounds (all of equal score).
    pub fn by_lex(start: LexBound, stop: LexBound) -> ZRange {
        ZRange { by: RangeBy::Lex(start, stop), rev: false, limit: None }
    }

    /// `REV`: highest first.
    #[must_use]
    pub fn rev(mut self) -> ZRange {
        self.rev = true;
        self
    }

    /// `LIMIT offset count` (score and lex ranges only; a negative count is "all").
    #[must_use]
    pub fn limit(mut self, offset: i64, count: i64) -> ZRange {
        self.limit = Some((offset, count));
        self
    }

    pub(crate) fn apply(&self, mut c: Cmd) -> Cmd {
        c = match &self.by {
            RangeBy::Index(a, b) => c.arg(*a).arg(*b),
            RangeBy::Score(a, b) => c.arg(a).arg(b).arg("BYSCORE"),
            RangeBy::Lex(a, b) => c.arg(a).arg(b).arg("BYLEX"),
        };
        if self.rev {
            c = c.arg("REV");
        }
        if let Some((offset, count)) = self.limit {
            c = c.arg("LIMIT").arg(offset).arg(count);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::cmd;

    fn args(c: &Cmd) -> Vec<String> {
        c.args().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
    }

    #[test]
    fn ranges_encode() {
        let r = ZRange::by_score(ScoreBound::Exclusive(1.5), ScoreBound::MAX).limit(0, 2);
        assert_eq!(
            args(&r.apply(cmd("ZRANGE").arg("z"))),
            ["ZRANGE", "z", "(1.5", "+inf", "BYSCORE", "LIMIT", "0", "2"]
        );
        let r = ZRange::by_lex(LexBound::Max, LexBound::Inclusive(Bytes::from_static(b"b"))).rev();
        assert_eq!(args(&r.apply(cmd("ZRANGE").arg("z"))), ["ZRANGE", "z", "+", "[b", "BYLEX", "REV"]);
        assert_eq!(args(&ZRange::by_index(0, -1).apply(cmd("ZRANGE"))), ["ZRANGE", "0", "-1"]);
        let c = cmd("ZCOUNT").arg(ScoreBound::MIN).arg(ScoreBound::from(2.0));
        assert_eq!(args(&c), ["ZCOUNT", "-inf", "2"]);
    }
}
