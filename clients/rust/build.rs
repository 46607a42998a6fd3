//! Generates the client from the committed spec at build time (progenitor's builder).

use std::path::Path;

fn main() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/medialib.json");
    println!("cargo:rerun-if-changed={}", spec.display());
    let file = std::fs::File::open(&spec).expect("openapi/medialib.json");
    let spec: openapiv3::OpenAPI = serde_json::from_reader(file).expect("a valid OpenAPI 3.0 spec");
    let mut generator = progenitor::Generator::default();
    let tokens = generator
        .generate_tokens(&spec)
        .expect("progenitor generates the client");
    let ast = syn::parse2(tokens).expect("the generated code parses");
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("client.rs");
    std::fs::write(out, prettyplease::unparse(&ast)).expect("write the generated client");
}
