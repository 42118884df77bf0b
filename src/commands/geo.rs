//! Geo commands: `GEOADD`, `GEOPOS`, `GEODIST`, `GEOHASH`, `GEOSEARCH` (with
//! a typed [`GeoMatch`] per result) and `GEOSEARCHSTORE`.
//!
//! Positions are `(longitude, latitude)` in degrees, longitude first as on
//! the wire. A geo set is a sorted set underneath, so the sorted-set group
//! works on it too. Not here: the deprecated `GEORADIUS` family.

use std::future::Future;

use bytes::Bytes;

use super::reply_shape::array;
use super::Execute;
use crate::cmd::{cmd, Cmd, FromReply, ToArg};
use crate::error::Error;
use crate::resp::Frame;

/// A distance unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GeoUnit {
    /// `m`, metres (the server's default).
    #[default]
    Meters,
    /// `km`.
    Kilometers,
    /// `mi`.
    Miles,
    /// `ft`.
    Feet,
}

impl ToArg for GeoUnit {
    fn write_arg(&self, cmd: &mut Cmd) {
        cmd.push_bytes(match self {
            GeoUnit::Meters => b"m",
            GeoUnit::Kilometers => b"km",
            GeoUnit::Miles => b"mi",
            GeoUnit::Feet => b"ft",
        })
    }
}

/// Options of `GEOADD`: `NX`/`XX` and `CH`; the default is none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GeoAddOptions {
    nx: bool,
    xx: bool,
    ch: bool,
}

impl GeoAddOptions {
    /// No option.
    pub fn new() -> GeoAddOptions {
        GeoAddOptions::default()
    }

    /// `NX`: add new members only.
    #[must_use]
    pub fn nx(mut self) -> GeoAddOptions {
        self.nx = true;
        self
    }

    /// `XX`: update existing members only.
    #[must_use]
    pub fn xx(mut self) -> GeoAddOptions {
        self.xx = true;
        self
    }

    /// `CH`: count changed members too.
    #[must_use]
    pub fn ch(mut self) -> GeoAddOptions {
        self.ch = true;
        self
    }
}

/// The centre of a `GEOSEARCH`.
#[derive(Debug, Clone, PartialEq)]
pub enum GeoFrom {
    /// `FROMMEMBER member`.
    Member(Bytes),
    /// `FROMLONLAT longitude latitude`.
    LonLat(f64, f64),
}

/// The area of a `GEOSEARCH`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GeoShape {
    /// `BYRADIUS radius unit`.
    Radius(f64, GeoUnit),
    /// `BYBOX width height unit`.
    Box(f64, f64, GeoUnit),
}

/// The order of `GEOSEARCH` results by distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoOrder {
    /// `ASC`: nearest first.
    Asc,
    /// `DESC`: farthest first.
    Desc,
}

/// Options of `GEOSEARCH`: order, `COUNT [ANY]`, and what to return with
/// each member (`WITHCOORD`, `WITHDIST`, `WITHHASH`). `GEOSEARCHSTORE`
/// uses the order and count only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GeoSearchOptions {
    order: Option<GeoOrder>,
    count: Option<(usize, bool)>,
    with_coord: bool,
    with_dist: bool,
    with_hash: bool,
}

impl GeoSearchOptions {
    /// No option: unsorted members, no extras.
    pub fn new() -> GeoSearchOptions {
        GeoSearchOptions::default()
    }

    /// `ASC` or `DESC`.
    #[must_use]
    pub fn order(mut self, order: GeoOrder) -> GeoSearchOptions {
        self.order = Some(order);
        self
    }

    /// `COUNT n`: the `n` nearest (or first, with `ORDER`) results.
    #[must_use]
    pub fn count(mut self, n: usize) -> GeoSearchOptions {
        self.count = Some((n, false));
        self
    }

    /// `COUNT n ANY`: stop as soon as `n` matches are found (faster, not the nearest).
    #[must_use]
    pub fn count_any(mut self, n: usize) -> GeoSearchOptions {
        self.count = Some((n, true));
        self
    }

    /// `WITHCOORD`: fill [`GeoMatch::coord`].
    #[must_use]
    pub fn with_coord(mut self) -> GeoSearchOptions {
        self.with_coord = true;
        self
    }

    /// `WITHDIST`: fill [`GeoMatch::dist`] (in the search's unit).
    #[must_use]
    pub fn with_dist(mut self) -> GeoSearchOptions {
        self.with_dist = true;
        self
    }

    /// `WITHHASH`: fill [`GeoMatch::hash`].
    #[must_use]
    pub fn with_hash(mut self) -> GeoSearchOptions {
        self.with_hash = true;
        self
    }

    fn apply_search(&self, mut c: Cmd, from: &GeoFrom, shape: &GeoShape) -> Cmd {
        c = match from {
            GeoFrom::Member(m) => c.arg("FROMMEMBER").arg(m),
            GeoFrom::LonLat(lon, lat) => c.arg("FROMLONLAT").arg(*lon).arg(*lat),
        };
        c = match shape {
            GeoShape::Radius(r, unit) => c.arg("BYRADIUS").arg(*r).arg(unit),
            GeoShape::Box(w, h, unit) => c.arg("BYBOX").arg(*w).arg(*h).arg(unit),
        };
        match self.order {
            Some(GeoOrder::Asc) => c = c.arg("ASC"),
            Some(GeoOrder::Desc) => c = c.arg("DESC"),
            None => {}
        }
        if let Some((n, any)) = self.count {
            c = c.arg("COUNT").arg(n);
            if any {
                c = c.arg("ANY");
            }
        }
        c
    }

    fn has_extras(&self) -> bool {
        self.with_coord || self.with_dist || self.with_hash
    }

    /// One result: a bare member, or `[member, dist?, hash?, [lon, lat]?]`
    /// in that order whatever order the options were given in.
    fn parse_match(&self, frame: Frame) -> Result<GeoMatch, Error> {
        if !self.has_extras() {
            return Ok(GeoMatch { member: Bytes::from_reply(frame)?, dist: None, hash: None, coord: None });
        }
        let mut it = array(frame, "a geo match")?.into_iter();
        let mut next = |what: &'static str| {
            it.next().ok_or(Error::Type { expected: what, got: "a shorter geo match".into() })
        };
        let member = Bytes::from_reply(next("a geo member")?)?;
        let dist = if self.with_dist { Some(f64::from_reply(next("a geo distance")?)?) } else { None };
        let hash = if self.with_hash { Some(u64::from_reply(next("a geohash")?)?) } else { None };
        let coord =
            if self.with_coord { Some(<(f64, f64)>::from_reply(next("coordinates")?)?) } else { None };
        Ok(GeoMatch { member, dist, hash, coord })
    }
}

/// One `GEOSEARCH` result; the optional parts are there when asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoMatch {
    /// The member.
    pub member: Bytes,
    /// Distance from the centre, in the search's unit (`WITHDIST`).
    pub dist: Option<f64>,
    /// The raw 52-bit geohash (`WITHHASH`).
    pub hash: Option<u64>,
    /// `(longitude, latitude)` (`WITHCOORD`).
    pub coord: Option<(f64, f64)>,
}

/// The geo group (`GEOADD`, `GEOSEARCH` ...), for every [`Execute`].
pub trait GeoCommands: Execute {
    /// `GEOADD key [NX|XX] [CH] longitude latitude member...`: the number of
    /// members added (with `CH`: added or moved).
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`, a position out
    /// of range).
    fn geoadd<K: ToArg, M: ToArg, I>(
        &self,
        key: K,
        members: I,
        options: &GeoAddOptions,
    ) -> impl Future<Output = Result<usize, Error>> + Send
    where
        I: IntoIterator<Item = (f64, f64, M)>,
    {
        let mut c = cmd("GEOADD").arg(key);
        for (on, flag) in [(options.nx, "NX"), (options.xx, "XX"), (options.ch, "CH")] {
            if on {
                c = c.arg(flag);
            }
        }
        for (lon, lat, member) in members {
            c = c.arg(lon).arg(lat).arg(member);
        }
        async move { self.query(&c).await }
    }

    /// `GEOPOS key member...`: each member's `(longitude, latitude)`, `None`
    /// for a missing one.
    ///
    /// # Errors
    /// Connection failures; [`Error::Server`] (`WRONGTYPE`).
    fn geopos<K: ToArg, I>(
        &self,
        key: K,
        members: I,
    ) -> impl Future<Output = Result<Vec<Option<(f64, f64)>>, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("GEOPOS").arg(key).args_from(members);
        async move { self.query(&c).await }
    }

    /// `GEODIST key member1 member2 unit`: the distance, `None` when a member
    /// is missing.
    ///
    /// # Errors
    /// As [`GeoCommands::geopos`].
    fn geodist<K: ToArg, A: ToArg, B: ToArg>(
        &self,
        key: K,
        member1: A,
        member2: B,
        unit: GeoUnit,
    ) -> impl Future<Output = Result<Option<f64>, Error>> + Send {
        let c = cmd("GEODIST").arg(key).arg(member1).arg(member2).arg(unit);
        async move { self.query(&c).await }
    }

    /// `GEOHASH key member...`: each member's 11-character geohash, `None`
    /// for a missing one.
    ///
    /// # Errors
    /// As [`GeoCommands::geopos`].
    fn geohash<K: ToArg, I>(
        &self,
        key: K,
        members: I,
    ) -> impl Future<Output = Result<Vec<Option<String>>, Error>> + Send
    where
        I: IntoIterator,
        I::Item: ToArg,
    {
        let c = cmd("GEOHASH").arg(key).args_from(members);
        async move { self.query(&c).await }
    }

    /// `GEOSEARCH key FROMMEMBER|FROMLONLAT BYRADIUS|BYBOX [ASC|DESC] [COUNT n
    /// [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]`: the members in the area.
    ///
    /// # Errors
    /// As [`GeoCommands::geopos`]; [`Error::Server`] when the `FROMMEMBER`
    /// member does not exist.
    fn geosearch<K: ToArg>(
        &self,
        key: K,
        from: &GeoFrom,
        shape: &GeoShape,
        options: &GeoSearchOptions,
    ) -> impl Future<Output = Result<Vec<GeoMatch>, Error>> + Send {
        let mut c = options.apply_search(cmd("GEOSEARCH").arg(key), from, shape);
        for (on, flag) in [
            (options.with_coord, "WITHCOORD"),
            (options.with_dist, "WITHDIST"),
            (options.with_hash, "WITHHASH"),
        ] {
            if on {
                c = c.arg(flag);
            }
        }
        let options = *options;
        async move {
            let items = array(self.execute(&c).await?, "geo matches")?;
            items.into_iter().map(|m| options.parse_match(m)).collect()
        }
    }

    /// `GEOSEARCHSTORE destination source ... [STOREDIST]`: stores the
    /// matches (with `store_dist`, their distances as scores); their number.
    ///
    /// # Errors
    /// As [`GeoCommands::geosearch`]; `CROSSSLOT` on a cluster.
    fn geosearchstore<D: ToArg, S: ToArg>(
        &self,
        destination: D,
        source: S,
        from: &GeoFrom,
        shape: &GeoShape,
        options: &GeoSearchOptions,
        store_dist: bool,
    ) -> impl Future<Output = Result<usize, Error>> + Send {
        let mut c = options.apply_search(cmd("GEOSEARCHSTORE").arg(destination).arg(source), from, shape);
        if store_dist {
            c = c.arg("STOREDIST");
        }
        async move { self.query(&c).await }
    }
}

impl<T: Execute + ?Sized> GeoCommands for T {}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Frame {
        Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn search_encodes() {
        let o = GeoSearchOptions::new().order(GeoOrder::Asc).count_any(3);
        let c = o.apply_search(
            cmd("GEOSEARCH").arg("g"),
            &GeoFrom::LonLat(13.5, 38.0),
            &GeoShape::Box(2.0, 3.0, GeoUnit::Kilometers),
        );
        let args: Vec<String> = c.args().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        assert_eq!(
            args,
            [
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "13.5",
                "38",
                "BYBOX",
                "2",
                "3",
                "km",
                "ASC",
                "COUNT",
                "3",
                "ANY"
            ]
        );
    }

    #[test]
    fn matches_parse_in_server_order() {
        let o = GeoSearchOptions::new().with_hash().with_coord().with_dist();
        let reply = Frame::Array(vec![
            b("Palermo"),
            b("190.4424"),
            Frame::Integer(3479099956230698),
            Frame::Array(vec![b("13.36138933897018433"), b("38.11555639549629859")]),
        ]);
        let m = o.parse_match(reply).unwrap();
        assert_eq!(m.dist, Some(190.4424));
        assert_eq!(m.hash, Some(3479099956230698));
        assert!(m.coord.is_some_and(|(lon, _)| (lon - 13.36).abs() < 0.01));
        assert!(o.parse_match(Frame::Array(vec![b("x")])).is_err());
        let bare = GeoSearchOptions::new().parse_match(b("Catania")).unwrap();
        assert_eq!((bare.member.as_ref(), bare.dist), (&b"Catania"[..], None));
    }
}
