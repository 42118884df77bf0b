// Reply fixtures shared by `benches/resp.rs` and the side-by-side
// `bench/benches/decode.rs` (pulled in with `include!`, so both decode
// byte-identical inputs). Needs `bytes::{Bytes, BytesMut}`, `redwire::Frame`
// and `redwire::resp::encode_frame` in scope.

fn wire(frame: &Frame) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_frame(frame, &mut out);
    out.to_vec()
}

fn bulk(s: &str) -> Frame {
    Frame::BulkString(Bytes::copy_from_slice(s.as_bytes()))
}

fn map(resp3: bool, pairs: Vec<(&str, Frame)>) -> Frame {
    if resp3 {
        Frame::Map(pairs.into_iter().map(|(k, v)| (bulk(k), v)).collect())
    } else {
        Frame::Array(pairs.into_iter().flat_map(|(k, v)| [bulk(k), v]).collect())
    }
}

fn hello(resp3: bool) -> Frame {
    map(
        resp3,
        vec![
            ("server", bulk("valkey")),
            ("version", bulk("8.0.2")),
            ("proto", Frame::Integer(if resp3 { 3 } else { 2 })),
            ("id", Frame::Integer(1042)),
            ("mode", bulk("cluster")),
            ("role", bulk("master")),
            ("modules", Frame::Array(vec![])),
        ],
    )
}

fn cluster_shards(resp3: bool) -> Frame {
    let shards = (0..3i64)
        .map(|s| {
            let nodes = (0..2i64)
                .map(|n| {
                    let port = 7000 + s * 2 + n;
                    map(
                        resp3,
                        vec![
                            ("id", bulk(&format!("{:040x}", port * 7919))),
                            ("port", Frame::Integer(port)),
                            ("ip", bulk("10.0.0.12")),
                            ("endpoint", bulk("10.0.0.12")),
                            ("hostname", bulk(&format!("node-{port}.example.internal"))),
                            ("role", bulk(if n == 0 { "master" } else { "replica" })),
                            ("replication-offset", Frame::Integer(72_156_812 + port)),
                            ("health", bulk("online")),
                        ],
                    )
                })
                .collect();
            map(
                resp3,
                vec![
                    ("slots", Frame::Array(vec![Frame::Integer(s * 5461), Frame::Integer(s * 5461 + 5460)])),
                    ("nodes", Frame::Array(nodes)),
                ],
            )
        })
        .collect();
    Frame::Array(shards)
}
