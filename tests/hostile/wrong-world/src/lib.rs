//! A valid component of a different world: it exports `run` instead of `init`/`emit`.

wit_bindgen::generate!({
    inline: "
        package test:other@1.0.0;
        world other {
            export run: func(input: string) -> string;
        }
    ",
});

struct Other;

impl Guest for Other {
    fn run(input: String) -> String {
        input
    }
}

export!(Other);
