//! `user`: local accounts with `useradd`/`usermod`/`userdel`, as Ansible's
//! `user` does on Linux, without Python on the host.
//!
//! The account is read with `getent` (passwd, shadow, every group's
//! members) in one round trip; the change is one shadow-tool line. The
//! password hash never appears on a command line or in the result: it
//! travels on stdin to `chpasswd -e`, and the result says
//! `NOT_LOGGING_PASSWORD` as Ansible's does.

use super::accounts::{
    Group, Passwd, check_name, command_line, getent_line, parse_group, parse_passwd, run_tool, tag,
    tagged,
};
use super::registry::Module;
use super::spec::{Kind, ModuleSpec, aliases, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use crate::core::shell_quote;
use serde_json::Value as Json;

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "user",
        &[
            aliases(required(p("name", Kind::Str)), &["user"]),
            choices(p("state", Kind::Str), &["absent", "present"]),
            p("uid", Kind::Int),
            p("non_unique", Kind::Bool),
            p("group", Kind::Str),
            p("groups", Kind::List),
            p("append", Kind::Bool),
            p("comment", Kind::Str),
            p("home", Kind::Str),
            p("shell", Kind::Str),
            p("password", Kind::Str),
            choices(p("update_password", Kind::Str), &["always", "on_create"]),
            p("password_lock", Kind::Bool),
            aliases(p("create_home", Kind::Bool), &["createhome"]),
            p("move_home", Kind::Bool),
            p("skeleton", Kind::Str),
            p("system", Kind::Bool),
            p("remove", Kind::Bool),
            p("force", Kind::Bool),
            p("expires", Kind::Any),
            p("umask", Kind::Str),
            p("uid_min", Kind::Int),
            p("uid_max", Kind::Int),
            p("password_expire_max", Kind::Int),
            p("password_expire_min", Kind::Int),
            p("password_expire_warn", Kind::Int),
            p("password_expire_account_disable", Kind::Int),
            p("generate_ssh_key", Kind::Bool),
            p("ssh_key_bits", Kind::Int),
            p("ssh_key_type", Kind::Str),
            p("ssh_key_file", Kind::Str),
            p("ssh_key_comment", Kind::Str),
            p("ssh_key_passphrase", Kind::Str),
            p("local", Kind::Bool),
            p("seuser", Kind::Str),
            p("login_class", Kind::Str),
            p("hidden", Kind::Bool),
            p("profile", Kind::Str),
            p("authorization", Kind::Str),
            p("role", Kind::Str),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

/// What Ansible returns in place of the password.
const NOT_LOGGING: &str = "NOT_LOGGING_PASSWORD";

/// The account as the host has it.
#[derive(Debug, Default)]
pub struct Account {
    pub passwd: Option<Passwd>,
    /// The shadow entry's fields (`name:hash:lastchg:min:max:warn:inactive:expire:`).
    pub shadow: Vec<String>,
    /// Groups whose member list names the user.
    pub member_of: Vec<String>,
    /// A group named like the user exists.
    pub own_group: bool,
    /// `group`, resolved.
    pub primary: Option<Group>,
    /// `groups`, each resolved (None: no such group).
    pub groups: Vec<(String, Option<Group>)>,
    pub hostname: String,
}

impl Account {
    fn shadow_field(&self, i: usize) -> Option<&str> {
        self.shadow.get(i).map(String::as_str)
    }

    fn hash(&self) -> &str {
        self.shadow_field(1).unwrap_or_default()
    }

    /// A numeric shadow field; an empty one is -1 (as `getspnam` says).
    fn shadow_number(&self, i: usize) -> i64 {
        self.shadow_field(i)
            .and_then(|f| f.parse().ok())
            .unwrap_or(-1)
    }
}

/// The user's arguments, with Ansible's defaults.
struct Wanted<'a> {
    name: &'a str,
    args: &'a Vars,
    /// `groups` as given (None: not given); empty strings dropped.
    groups: Option<Vec<String>>,
}

impl Wanted<'_> {
    fn str(&self, key: &str) -> Option<&str> {
        arg_str(self.args, key)
    }

    fn int(&self, key: &str) -> Option<i64> {
        self.args.get(key).and_then(Json::as_i64)
    }

    fn flag(&self, key: &str) -> bool {
        arg_bool(self.args, key, false)
    }

    fn create_home(&self) -> bool {
        arg_bool(self.args, "create_home", true)
    }

    fn password_lock(&self) -> Option<bool> {
        self.args.get("password_lock").and_then(Json::as_bool)
    }

    /// `expires` as seconds since the epoch.
    fn expires(&self) -> Result<Option<f64>, String> {
        match self.args.get("expires") {
            None | Some(Json::Null) => Ok(None),
            Some(v) => {
                let n = v
                    .as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
                n.map(Some).ok_or_else(|| {
                    format!("Invalid value for 'expires' {v}: a number of seconds since the epoch")
                })
            }
        }
    }

    /// The password as the shadow file should hold it.
    fn shadow_password(&self) -> Option<String> {
        let pw = self.str("password")?;
        Some(if self.password_lock() == Some(true) {
            format!("!{pw}")
        } else {
            pw.to_string()
        })
    }
}

/// `-e` for `expires` (`''` removes the expiry), as YYYY-MM-DD in UTC.
fn expiry_date(expires: f64) -> String {
    if expires < 0.0 {
        return String::new();
    }
    chrono::DateTime::from_timestamp(expires as i64, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The `useradd` line for a new account (the password is set apart).
fn add_command(w: &Wanted<'_>, acct: &Account) -> Result<Vec<String>, String> {
    let mut cmd = vec!["useradd".to_string()];
    let mut push = |words: &[&str]| cmd.extend(words.iter().map(|s| s.to_string()));
    if let Some(uid) = w.int("uid") {
        push(&["-u", &uid.to_string()]);
        if w.flag("non_unique") {
            push(&["-o"]);
        }
    }
    if let Some(group) = w.str("group") {
        if acct.primary.is_none() {
            return Err(format!("Group {group} does not exist"));
        }
        push(&["-g", group]);
    } else if acct.own_group {
        // A group of the user's name exists: useradd would try to make it.
        push(&["-N"]);
    }
    if let Some(groups) = &w.groups
        && !groups.is_empty()
    {
        push(&["-G", &groups.join(",")]);
    }
    if let Some(comment) = w.str("comment") {
        push(&["-c", comment]);
    }
    if let Some(home) = w.str("home") {
        push(&["-d", home]);
    }
    if let Some(shell) = w.str("shell") {
        push(&["-s", shell]);
    }
    if let Some(expires) = w.expires()? {
        push(&["-e", &expiry_date(expires)]);
    }
    if let Some(days) = w.int("password_expire_account_disable") {
        push(&["-f", &days.to_string()]);
    }
    if w.create_home() {
        push(&["-m"]);
        if let Some(skel) = w.str("skeleton") {
            push(&["-k", skel]);
        }
        if let Some(umask) = w.str("umask") {
            push(&["-K", &format!("UMASK={umask}")]);
        }
    } else {
        push(&["-M"]);
    }
    if w.flag("system") {
        push(&["-r"]);
    }
    for (key, setting) in [("uid_min", "UID_MIN"), ("uid_max", "UID_MAX")] {
        if let Some(v) = w.int(key) {
            push(&["-K", &format!("{setting}={v}")]);
        }
    }
    push(&[w.name]);
    Ok(cmd)
}

/// The `usermod` options an existing account needs (empty: none), and
/// whether its password must be set.
fn mod_options(w: &Wanted<'_>, pw: &Passwd, acct: &Account) -> Result<(Vec<String>, bool), String> {
    let mut cmd: Vec<String> = Vec::new();
    let mut push = |words: &[&str]| cmd.extend(words.iter().map(|s| s.to_string()));
    if let Some(uid) = w.int("uid")
        && uid != i64::from(pw.uid)
    {
        push(&["-u", &uid.to_string()]);
        if w.flag("non_unique") {
            push(&["-o"]);
        }
    }
    if let Some(group) = w.str("group") {
        let g = acct
            .primary
            .as_ref()
            .ok_or_else(|| format!("Group {group} does not exist"))?;
        if g.gid != pw.gid {
            push(&["-g", &g.gid.to_string()]);
        }
    }
    if w.groups.is_some() {
        let mut names = Vec::new();
        for (input, found) in &acct.groups {
            let g = found
                .as_ref()
                .ok_or_else(|| format!("Group {input} does not exist"))?;
            if !names.contains(&g.name) {
                names.push(g.name.clone());
            }
        }
        let current = &acct.member_of;
        let missing = names.iter().any(|n| !current.contains(n));
        let extra = current.iter().any(|c| !names.contains(c));
        let append = w.flag("append");
        let needed = if append { missing } else { missing || extra };
        if needed {
            if append {
                push(&["-a"]);
            }
            push(&["-G", &names.join(",")]);
        }
    }
    if let Some(comment) = w.str("comment")
        && comment != pw.comment
    {
        push(&["-c", comment]);
    }
    if let Some(home) = w.str("home")
        && home != pw.home
    {
        push(&["-d", home]);
        if w.flag("move_home") {
            push(&["-m"]);
        }
    }
    if let Some(shell) = w.str("shell")
        && shell != pw.shell
    {
        push(&["-s", shell]);
    }
    if let Some(expires) = w.expires()? {
        let current = acct.shadow_number(7);
        let change = if expires < 0.0 {
            current >= 0
        } else {
            current < 0 || expiry_date(current as f64 * 86400.0) != expiry_date(expires)
        };
        if change {
            push(&["-e", &expiry_date(expires)]);
        }
    }
    if let Some(days) = w.int("password_expire_account_disable")
        && days != acct.shadow_number(6)
    {
        push(&["-f", &days.to_string()]);
    }
    let locked = acct.hash().starts_with('!');
    let mut lock = match w.password_lock() {
        Some(true) if !locked => Some("-L"),
        Some(false) if locked => Some("-U"),
        _ => None,
    };
    let set_password = w.str("update_password").unwrap_or("always") == "always"
        && w.str("password")
            .is_some_and(|pw| acct.hash().trim_start_matches('!') != pw.trim_start_matches('!'));
    if set_password {
        // The new hash carries the lock (`!`) itself.
        lock = None;
    }
    if let Some(flag) = lock {
        push(&[flag]);
    }
    Ok((cmd, set_password))
}

/// The account, every group's members and the groups asked for, in one
/// round trip.
async fn read_account(
    ctx: &ModuleContext<'_>,
    name: &str,
    group: Option<&str>,
    groups: &[String],
) -> Result<Account, TaskResult> {
    let mut script = format!("n={}\n", shell_quote(name));
    script.push_str(&getent_line("passwd", name, "pw"));
    script.push_str(&getent_line("shadow", name, "sp"));
    script.push_str(&getent_line("group", name, "own"));
    script.push_str(
        "getent group | while IFS=: read -r g x i m; do \
         case \",$m,\" in *,\"$n\",*) printf 'member=%s\\n' \"$g\";; esac; done\n",
    );
    if let Some(g) = group {
        script.push_str(&getent_line("group", g, "primary"));
    }
    for (i, g) in groups.iter().enumerate() {
        script.push_str(&getent_line("group", g, &format!("g{i}")));
    }
    script.push_str("printf 'host=%s\\n' \"$(hostname 2>/dev/null || uname -n)\"\n");
    let (stdout, _) = run_tool(ctx, &script, None).await?;
    let lines = tagged(stdout.as_bytes());
    Ok(Account {
        passwd: tag(&lines, "pw").and_then(parse_passwd),
        shadow: tag(&lines, "sp")
            .map(|s| s.split(':').map(str::to_string).collect())
            .unwrap_or_default(),
        member_of: lines
            .iter()
            .filter(|(k, _)| k == "member")
            .map(|(_, v)| v.clone())
            .collect(),
        own_group: tag(&lines, "own").is_some(),
        primary: tag(&lines, "primary").and_then(parse_group),
        groups: groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let found = tag(&lines, &format!("g{i}")).and_then(parse_group);
                (g.clone(), found)
            })
            .collect(),
        hostname: tag(&lines, "host").unwrap_or_default().to_string(),
    })
}

/// Arguments rollout does not implement, refused with what to do instead.
fn check_args(args: &Vars) -> Result<(), String> {
    for key in [
        "local",
        "seuser",
        "hidden",
        "login_class",
        "profile",
        "authorization",
        "role",
    ] {
        let given = match args.get(key) {
            None | Some(Json::Null) | Some(Json::Bool(false)) => false,
            Some(_) => true,
        };
        if given {
            return Err(format!(
                "'{key}' is not supported by rollout's user (Linux shadow tools only)"
            ));
        }
    }
    Ok(())
}

/// Ansible's warning for a password that does not look like a crypt hash.
fn looks_unhashed(pw: &str) -> bool {
    if ["*", "!", "*************"].contains(&pw) {
        return false;
    }
    if pw.contains([':', '*', '!']) || !pw.contains('$') {
        return true;
    }
    let fields: Vec<&str> = pw.split('$').collect();
    if fields.len() < 3 {
        return true;
    }
    let last = fields[fields.len() - 1];
    let bad_char = last
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || "./=".contains(c)));
    let wrong_len = match fields[1] {
        "1" => last.len() != 22,
        "5" | "y" => last.len() != 43,
        "6" => last.len() != 86,
        _ => false,
    };
    bad_char || wrong_len
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match run_checked(args, ctx).await {
        Ok(result) | Err(result) => result,
    }
}

/// `NAME:HASH` for `chpasswd -e`, on stdin.
fn chpasswd_input(name: &str, hash: &str) -> Result<Vec<u8>, TaskResult> {
    if hash.contains(['\n', ':']) {
        return Err(TaskResult::failed(
            "the password hash must not contain ':' or a newline",
        ));
    }
    Ok(format!("{name}:{hash}\n").into_bytes())
}

/// Runs the change: the shadow-tool line, then the password through
/// `chpasswd -e` on stdin. A failure's message is the tool's stderr.
async fn apply(
    ctx: &ModuleContext<'_>,
    w: &Wanted<'_>,
    mut line: String,
    set_password: bool,
) -> Result<(String, String), TaskResult> {
    let mut stdin = None;
    if set_password && let Some(hash) = w.shadow_password() {
        if !line.is_empty() {
            line.push_str(" && ");
        }
        line.push_str("chpasswd -e");
        stdin = Some(chpasswd_input(w.name, &hash)?);
    }
    run_tool(ctx, &line, stdin.as_deref())
        .await
        .map_err(|r| r.with("name", w.name))
}

async fn run_checked(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let name = arg_str(args, "name").unwrap_or_default();
    check_name("user", name).map_err(TaskResult::failed)?;
    check_args(args).map_err(TaskResult::failed)?;
    let groups = match args.get("groups") {
        None | Some(Json::Null) => None,
        Some(_) => Some(
            super::arg_list(args, "groups")
                .into_iter()
                .filter(|g| !g.is_empty())
                .collect::<Vec<_>>(),
        ),
    };
    let w = Wanted { name, args, groups };
    w.expires().map_err(TaskResult::failed)?;
    let state = arg_str(args, "state").unwrap_or("present");
    let acct = read_account(
        ctx,
        name,
        w.str("group"),
        w.groups.as_deref().unwrap_or_default(),
    )
    .await?;
    let mut result = TaskResult::ok().with("name", name).with("state", state);
    let mut warnings = Vec::new();
    if let Some(pw) = w.str("password")
        && looks_unhashed(pw)
    {
        warnings.push(
            "The input password appears not to have been hashed. The 'password' argument \
             must be encrypted for this module to work properly.",
        );
    }
    let (stdout, stderr);
    match (state, &acct.passwd) {
        ("absent", None) => (stdout, stderr) = (String::new(), String::new()),
        ("absent", Some(_)) => {
            if ctx.check_mode {
                return Ok(TaskResult::changed());
            }
            let mut cmd = vec!["userdel".to_string()];
            for (key, flag) in [("force", "-f"), ("remove", "-r")] {
                if w.flag(key) {
                    cmd.push(flag.into());
                }
            }
            cmd.push(name.into());
            (stdout, stderr) = apply(ctx, &w, command_line(&cmd), false).await?;
            result.changed = true;
            result = result
                .with("force", w.flag("force"))
                .with("remove", w.flag("remove"));
        }
        (_, None) => {
            if ctx.check_mode {
                return Ok(TaskResult::changed());
            }
            for (input, found) in &acct.groups {
                if found.is_none() {
                    return Err(TaskResult::failed(format!("Group {input} does not exist")));
                }
            }
            let mut line = command_line(&add_command(&w, &acct).map_err(TaskResult::failed)?);
            // useradd cannot make a home's missing parents.
            if let Some(home) = w.str("home").filter(|_| w.create_home()) {
                let parent = std::path::Path::new(home).parent();
                if let Some(parent) = parent.filter(|p| !p.as_os_str().is_empty()) {
                    let parent = shell_quote(&parent.display().to_string());
                    line = format!("mkdir -p {parent} && {line}");
                }
            }
            (stdout, stderr) = apply(ctx, &w, line, true).await?;
            result.changed = true;
            result = result
                .with("system", w.flag("system"))
                .with("create_home", w.create_home());
        }
        (_, Some(pw)) => {
            let (opts, set_password) = mod_options(&w, pw, &acct).map_err(TaskResult::failed)?;
            if !opts.is_empty() || set_password {
                result.changed = true;
                if ctx.check_mode {
                    (stdout, stderr) = (String::new(), String::new());
                } else {
                    let line = if opts.is_empty() {
                        String::new()
                    } else {
                        let mut cmd = vec!["usermod".to_string()];
                        cmd.extend(opts);
                        cmd.push(name.into());
                        command_line(&cmd)
                    };
                    (stdout, stderr) = apply(ctx, &w, line, set_password).await?;
                }
            } else {
                (stdout, stderr) = (String::new(), String::new());
            }
            result = result
                .with("append", w.flag("append"))
                .with("move_home", w.flag("move_home"));
        }
    }
    if state == "present" && w.str("password").is_some() {
        result = result.with("password", NOT_LOGGING);
    }
    for (key, text) in [("stdout", stdout), ("stderr", stderr)] {
        if !text.is_empty() {
            result = result.with(key, text);
        }
    }
    if state == "present" {
        result = finish_present(ctx, &w, result, &acct).await?;
    }
    if !warnings.is_empty() {
        let mut all: Vec<Json> = warnings.into_iter().map(Json::from).collect();
        if let Some(Json::Array(more)) = result.data.remove("warnings") {
            all.extend(more);
        }
        result = result.with("warnings", Json::Array(all));
    }
    Ok(result)
}

/// After the change, for an account that exists: its fields, a missing
/// home made, the SSH key, the password ageing.
async fn finish_present(
    ctx: &ModuleContext<'_>,
    w: &Wanted<'_>,
    mut result: TaskResult,
    before: &Account,
) -> Result<TaskResult, TaskResult> {
    let acct = if ctx.check_mode {
        None
    } else {
        Some(read_account(ctx, w.name, None, &[]).await?)
    };
    let acct = acct.as_ref().unwrap_or(before);
    let Some(pw) = &acct.passwd else {
        return Ok(result);
    };
    result = result
        .with("uid", pw.uid)
        .with("group", pw.gid)
        .with("comment", pw.comment.clone())
        .with("home", pw.home.clone())
        .with("shell", pw.shell.clone());
    if let Some(groups) = &w.groups {
        result = result.with("groups", groups.join(","));
    }
    let home = w.str("home").unwrap_or(&pw.home).to_string();
    if w.create_home() && !home.is_empty() && !path_exists(ctx, &home).await? {
        if !ctx.check_mode {
            make_home(ctx, w, &home, pw).await?;
        }
        result.changed = true;
    }
    if arg_bool(w.args, "generate_ssh_key", false) {
        result = super::user_ssh_key::generate(ctx, w.args, pw, &acct.hostname, result).await?;
    }
    let ageing = [
        ("password_expire_min", "-m", 3),
        ("password_expire_max", "-M", 4),
        ("password_expire_warn", "-W", 5),
    ];
    let mut chage = vec!["chage".to_string()];
    for (key, flag, field) in ageing {
        if let Some(v) = w.int(key)
            && v != acct.shadow_number(field)
        {
            chage.extend([flag.to_string(), v.to_string()]);
        }
    }
    if chage.len() > 1 {
        if !ctx.check_mode {
            chage.push(w.name.into());
            run_tool(ctx, &command_line(&chage), None)
                .await
                .map_err(|r| r.with("name", w.name))?;
        }
        result.changed = true;
    }
    Ok(result)
}

async fn path_exists(ctx: &ModuleContext<'_>, path: &str) -> Result<bool, TaskResult> {
    let out =
        super::remote_file::exec(ctx, &format!("test -e {}", shell_quote(path)), None).await?;
    Ok(out.rc == 0)
}

/// Ansible's `create_homedir` + `chown_homedir`: the skeleton copied (or
/// an empty directory), its mode from login.defs' UMASK, owned by the user.
async fn make_home(
    ctx: &ModuleContext<'_>,
    w: &Wanted<'_>,
    home: &str,
    pw: &Passwd,
) -> Result<(), TaskResult> {
    let skel = w.str("skeleton").unwrap_or("/etc/skel");
    let script = format!(
        "h={h}; s={s}; set -e\n\
         if [ -d \"$s\" ]; then mkdir -p \"$(dirname \"$h\")\"; cp -a \"$s\" \"$h\"; else mkdir -p \"$h\"; fi\n\
         u=$(sed -n 's/^UMASK[[:space:]]\\{{1,\\}}\\([0-7]\\{{1,\\}}\\)$/\\1/p' /etc/login.defs 2>/dev/null | head -n 1)\n\
         if [ -n \"$u\" ]; then chmod \"$(printf '%o' $((0777 & ~0$u)))\" \"$h\"; fi\n\
         chown -R {ids} \"$h\"\n",
        h = shell_quote(home),
        s = shell_quote(skel),
        ids = shell_quote(&format!("{}:{}", pw.uid, pw.gid)),
    );
    run_tool(ctx, &script, None).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote_file::test_support::args;
    use serde_json::json;

    fn group(name: &str, gid: u32) -> Option<Group> {
        Some(Group {
            name: name.into(),
            gid,
            members: vec![],
        })
    }

    fn passwd() -> Passwd {
        parse_passwd("deploy:x:1001:1001:Deploy:/home/deploy:/bin/sh").unwrap()
    }

    #[test]
    fn useradd_takes_every_argument_in_order() {
        let a = args(json!({"name": "deploy", "uid": 1500, "group": "staff",
            "comment": "Deploy", "home": "/srv/deploy", "shell": "/bin/bash",
            "system": true, "expires": 86400 * 365}));
        let w = Wanted {
            name: "deploy",
            args: &a,
            groups: Some(vec!["adm".into(), "sudo".into()]),
        };
        let acct = Account {
            primary: group("staff", 50),
            ..Default::default()
        };
        assert_eq!(
            add_command(&w, &acct).unwrap(),
            [
                "useradd",
                "-u",
                "1500",
                "-g",
                "staff",
                "-G",
                "adm,sudo",
                "-c",
                "Deploy",
                "-d",
                "/srv/deploy",
                "-s",
                "/bin/bash",
                "-e",
                "1971-01-01",
                "-m",
                "-r",
                "deploy"
            ]
        );
        let missing = add_command(&w, &Account::default()).unwrap_err();
        assert_eq!(missing, "Group staff does not exist");
    }

    #[test]
    fn usermod_changes_only_what_differs() {
        let a = args(json!({"name": "deploy", "shell": "/bin/sh", "comment": "New"}));
        let w = Wanted {
            name: "deploy",
            args: &a,
            groups: None,
        };
        let (opts, pw) = mod_options(&w, &passwd(), &Account::default()).unwrap();
        assert_eq!(opts, ["-c", "New"]);
        assert!(!pw);
    }

    #[test]
    fn groups_are_appended_or_replaced_as_ansible_decides() {
        let acct = Account {
            member_of: vec!["adm".into(), "audio".into()],
            groups: vec![
                ("adm".into(), group("adm", 4)),
                ("sudo".into(), group("sudo", 27)),
            ],
            ..Default::default()
        };
        let append = args(json!({"append": true}));
        let w = Wanted {
            name: "deploy",
            args: &append,
            groups: Some(vec!["adm".into(), "sudo".into()]),
        };
        assert_eq!(
            mod_options(&w, &passwd(), &acct).unwrap().0,
            ["-a", "-G", "adm,sudo"]
        );
        let replace = args(json!({}));
        let w = Wanted {
            args: &replace,
            ..w
        };
        assert_eq!(
            mod_options(&w, &passwd(), &acct).unwrap().0,
            ["-G", "adm,sudo"]
        );
        // Already a member of every group asked for: appending is a no-op.
        let member = Account {
            member_of: vec!["adm".into(), "sudo".into(), "audio".into()],
            ..acct
        };
        let w = Wanted { args: &append, ..w };
        assert!(mod_options(&w, &passwd(), &member).unwrap().0.is_empty());
        let gone = Account {
            groups: vec![("nope".into(), None)],
            ..Default::default()
        };
        let err = mod_options(&w, &passwd(), &gone).unwrap_err();
        assert_eq!(err, "Group nope does not exist");
    }

    #[test]
    fn password_is_compared_without_the_lock_mark() {
        let hash = "$6$salt$hash";
        let a = args(json!({"password": hash}));
        let w = Wanted {
            name: "deploy",
            args: &a,
            groups: None,
        };
        let locked = Account {
            shadow: vec!["deploy".into(), format!("!{hash}")],
            ..Default::default()
        };
        assert!(!mod_options(&w, &passwd(), &locked).unwrap().1);
        let other = Account {
            shadow: vec!["deploy".into(), "$6$x$y".into()],
            ..Default::default()
        };
        assert!(mod_options(&w, &passwd(), &other).unwrap().1);
        let on_create = args(json!({"password": hash, "update_password": "on_create"}));
        let w = Wanted {
            args: &on_create,
            ..w
        };
        assert!(!mod_options(&w, &passwd(), &other).unwrap().1);
        let lock = args(json!({"password_lock": true}));
        let w = Wanted { args: &lock, ..w };
        assert_eq!(mod_options(&w, &passwd(), &other).unwrap().0, ["-L"]);
        assert!(mod_options(&w, &passwd(), &locked).unwrap().0.is_empty());
    }

    #[test]
    fn expiry_is_a_utc_date_and_negative_removes_it() {
        assert_eq!(expiry_date(0.0), "1970-01-01");
        assert_eq!(expiry_date(1_700_000_000.0), "2023-11-14");
        assert_eq!(expiry_date(-1.0), "");
        let a = args(json!({"expires": -1}));
        let w = Wanted {
            name: "d",
            args: &a,
            groups: None,
        };
        let set = Account {
            shadow: "d:x:1:0:99999:7::19000:"
                .split(':')
                .map(String::from)
                .collect(),
            ..Default::default()
        };
        assert_eq!(mod_options(&w, &passwd(), &set).unwrap().0, ["-e", ""]);
        let unset = Account {
            shadow: "d:x:1:0:99999:7:::".split(':').map(String::from).collect(),
            ..Default::default()
        };
        assert!(mod_options(&w, &passwd(), &unset).unwrap().0.is_empty());
    }

    #[test]
    fn unhashed_passwords_are_noticed() {
        assert!(looks_unhashed("secret"));
        assert!(!looks_unhashed(&format!("$6$salt${}", "a".repeat(86))));
        assert!(looks_unhashed("$6$salt$short"));
        assert!(!looks_unhashed("!"));
    }

    #[test]
    fn unsupported_arguments_say_so() {
        let err = check_args(&args(json!({"local": true}))).unwrap_err();
        assert!(err.contains("'local' is not supported"), "{err}");
        assert!(check_args(&args(json!({"local": false}))).is_ok());
    }
}
