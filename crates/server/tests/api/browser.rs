//! A browser's view of one node's web interface, without a browser: its own
//! session cookie, same-origin form posts, redirects not followed.

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::StatusCode;

pub struct Browser {
    pub c: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The `Location` of a redirect, or "".
    pub location: String,
    pub body: String,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            c,
            base: base.to_string(),
            cookie: None,
        }
    }

    pub async fn signed_in(base: &str, user: &str, password: &str) -> Browser {
        let mut b = Browser::new(base);
        let p = b.sign_in(user, password).await;
        assert_eq!(
            p.status,
            StatusCode::SEE_OTHER,
            "{user} signs in: {}",
            p.body
        );
        b
    }

    /// Signed in as a user of the test nodes (password `<name>-password`).
    pub async fn as_user(base: &str, user: &str) -> Browser {
        Browser::signed_in(base, user, &format!("{user}-password")).await
    }

    /// Signs in; keeps the session cookie the node sets.
    pub async fn sign_in(&mut self, user: &str, password: &str) -> Page {
        let p = self
            .post("/ui/login", &[("name", user), ("password", password)])
            .await;
        if let Some(c) = p.headers.get(SET_COOKIE) {
            let c = c.to_str().unwrap();
            self.cookie = Some(c.split(';').next().unwrap().to_string());
        }
        p
    }

    pub async fn send(&self, r: reqwest::RequestBuilder) -> Page {
        let r = match &self.cookie {
            Some(c) => r.header("cookie", c),
            None => r,
        };
        let res = r.send().await.unwrap();
        let headers = res.headers().clone();
        let location = headers
            .get("location")
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default();
        Page {
            status: res.status(),
            headers,
            location,
            body: res.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(self.c.get(format!("{}{path}", self.base))).await
    }

    /// A form posted from one of the node's own pages.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_from(path, form, "same-origin", &self.base).await
    }

    /// The same, with the session's form token added.
    pub async fn post_with_token(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.csrf().await;
        let mut form = form.to_vec();
        form.push(("csrf", &csrf));
        self.post(path, &form).await
    }

    pub async fn post_from(
        &self,
        path: &str,
        form: &[(&str, &str)],
        site: &str,
        origin: &str,
    ) -> Page {
        let r = self
            .c
            .post(format!("{}{path}", self.base))
            .header("sec-fetch-site", site)
            .header("origin", origin)
            .form(form);
        self.send(r).await
    }

    /// The CSRF token of the forms on a page the session can see.
    pub async fn csrf(&self) -> String {
        let body = self.get("/ui/").await.body;
        let at = body.find("name=\"csrf\" value=\"").expect("a form") + 19;
        body[at..at + 64].to_string()
    }
}
