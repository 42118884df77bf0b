//! Frame equality for the fuzz targets: doubles compared by bits, every NaN
//! equal to every other (the wire has a single `nan`). Included by each
//! target with `#[path]`, since fuzz targets are separate binaries.

use redwire::Frame;

pub fn same(a: &Frame, b: &Frame) -> bool {
    match (a, b) {
        (Frame::Double(x), Frame::Double(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Frame::Array(x), Frame::Array(y)) | (Frame::Set(x), Frame::Set(y)) | (Frame::Push(x), Frame::Push(y)) => {
            same_all(x, y)
        }
        (Frame::Map(x), Frame::Map(y)) => same_pairs(x, y),
        (
            Frame::Attributed { attributes: a1, frame: f1 },
            Frame::Attributed { attributes: a2, frame: f2 },
        ) => same_pairs(a1, a2) && same(f1, f2),
        _ => a == b,
    }
}

pub fn same_all(a: &[Frame], b: &[Frame]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}

fn same_pairs(a: &[(Frame, Frame)], b: &[(Frame, Frame)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
}
