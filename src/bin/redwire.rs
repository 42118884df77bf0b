//! The `redwire` command-line tool.

fn main() {
    println!("redwire {}", env!("CARGO_PKG_VERSION"));
}
