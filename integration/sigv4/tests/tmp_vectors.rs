use std::sync::Arc;
use ampfed_sigv4::*;
use chrono::{DateTime, Utc};

fn parse(text: &str) -> (String, String, String, Vec<(String, String)>, Vec<u8>) {
    let (head, body) = match text.split_once("\n\n") { Some((h, b)) => (h, b), None => (text, "") };
    let mut lines = head.lines();
    let first = lines.next().unwrap();
    let method = first.split(' ').next().unwrap().to_owned();
    let target = first[method.len() + 1..first.len() - " HTTP/1.1".len()].to_owned();
    let (path, query) = target.split_once('?').map(|(p, q)| (p.to_owned(), q.to_owned())).unwrap_or((target.clone(), String::new()));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') { let last = headers.last_mut().unwrap(); last.1.push(' '); last.1.push_str(line.trim()); continue; }
        let (n, v) = line.split_once(':').unwrap();
        headers.push((n.to_owned(), v.to_owned()));
    }
    (method, path, query, headers, body.as_bytes().to_vec())
}

#[test]
fn vectors() {
    let dir = format!("{}/registry/src", std::env::var("CARGO_HOME").unwrap_or("/root/.cargo".into()));
    let idx = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let suite = idx.join("aws-sigv4-1.6.4/aws-signing-test-suite/v4");
    let mut fails = vec![];
    for case in std::fs::read_dir(&suite).unwrap() {
        let case = case.unwrap().path();
        let Ok(ctx) = std::fs::read_to_string(case.join("context.json")) else { println!("skip {:?}", case); continue };
        let normalize = !ctx.contains("\"normalize\": false");
        let token = ctx.split("\"token\": \"").nth(1).map(|s| s.split('"').next().unwrap().to_owned());
        let registry = CredentialRegistry::new();
        registry.register(Credential { access_key_id: "AKIDEXAMPLE".into(), secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(), session_token: token, expiration: None, principal_arn: "arn".into() });
        let mut settings = VerifierSettings::new("us-east-1", "service");
        settings.normalize_path = normalize;
        let t: DateTime<Utc> = "2015-08-30T12:36:00Z".parse().unwrap();
        let v = Verifier::new(settings, registry).with_clock(Arc::new(move || t));
        for form in ["header", "query"] {
            let text = std::fs::read_to_string(case.join(format!("{form}-signed-request.txt"))).unwrap();
            let (m, p, q, h, b) = parse(&text);
            let r = v.verify(&IncomingRequest { method: &m, path: &p, query: &q, headers: &h, body: &b });
            if let Err(e) = r { fails.push(format!("{} {form}: {}", case.file_name().unwrap().to_string_lossy(), e.message())); }
        }
    }
    for f in &fails { println!("{f}\n-----"); }
    println!("{} failures", fails.len());
}
