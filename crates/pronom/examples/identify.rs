//! Identifies the files given as arguments with the embedded signatures and prints the PUID,
//! the method and the time taken: a quick way to check a file by hand.

fn main() {
    let t = std::time::Instant::now();
    let id = carnac_pronom::Identifier::embedded().expect("embedded signatures");
    eprintln!("signatures loaded in {:?}", t.elapsed());
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("read file");
        let t = std::time::Instant::now();
        let mut got = id.identify(&carnac_pronom::Sample::of(&bytes), Some(&path));
        if let Some(first) = &got
            && id.is_zip_trigger(&first.puid)
            && let Some(c) = id.identify_zip(std::io::Cursor::new(&bytes), Some(&path))
        {
            got = Some(c);
        }
        if std::env::var_os("PROFILE").is_some() {
            for (sig, d) in id
                .signatures()
                .profile(&carnac_pronom::Sample::of(&bytes))
                .iter()
                .take(5)
            {
                eprintln!("  signature {sig}: {d:?}");
            }
        }
        if let Some(n) = std::env::var("REPEAT")
            .ok()
            .and_then(|n| n.parse::<u32>().ok())
        {
            let sample = carnac_pronom::Sample::of(&bytes);
            let t = std::time::Instant::now();
            for _ in 0..n {
                std::hint::black_box(id.identify(&sample, Some(&path)));
            }
            eprintln!("  {n} identifications: {:?} each", t.elapsed() / n);
        }
        match got {
            Some(i) => println!(
                "{path}\t{}\t{}\t{:?}",
                i.puid,
                i.method.as_str(),
                t.elapsed()
            ),
            None => println!("{path}\tUNKNOWN\t-\t{:?}", t.elapsed()),
        }
    }
}
