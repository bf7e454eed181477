//! PEP 493 reads the variable once at start: changing the live environment
//! afterwards has no effect. Alone in its own test binary (one test, one
//! thread), because changing the process environment is only sound when no
//! other thread reads it.

use std::path::Path;

use vorpal::environment::Environment;
use vorpal::https::policy;

#[test]
fn environment_changed_after_start_has_no_effect() {
    let nowhere = Path::new("/nonexistent/vorpal-test/cert-verification.cfg");
    // SAFETY: this binary runs exactly one test, so no other thread touches the environment.
    unsafe { std::env::remove_var("VORPAL_HTTPS_VERIFY") };
    let at_start = Environment::capture(false);
    unsafe { std::env::set_var("VORPAL_HTTPS_VERIFY", "0") };
    let d = policy::resolve(None, &at_start, None, nowhere).unwrap();
    assert!(
        d.verify,
        "a later change must not reach the start-up snapshot"
    );
    // The change is real: a new snapshot sees it.
    let later = Environment::capture(false);
    assert!(!policy::resolve(None, &later, None, nowhere).unwrap().verify);
    unsafe { std::env::remove_var("VORPAL_HTTPS_VERIFY") };
}
