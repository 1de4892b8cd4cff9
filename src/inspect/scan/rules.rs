//! The scanner's phrase rules, as data: each one a detector, a severity and
//! a pattern over ASCII-lower-cased visible text. `detectors.rs` compiles
//! them into one `RegexSet` and runs them.

use super::Severity;
use Severity::{High, Medium};

/// Files and stores whose content is a secret in itself.
pub(super) const SENSITIVE: &str = r#"(~/\.ssh([\s'"`),;:]|$|/id_|/authorized_keys)|\bid_(rsa|dsa|ecdsa|ed25519)\b|\bauthorized_keys\b|\.aws/(credentials|config)\b|\baws_secret_access_key\b|\.config/gcloud\b|\bapplication_default_credentials\b|\.azure/|\.kube/config\b|\.docker/config\.json|\.npmrc\b|\.pypirc\b|\.netrc\b|\.git-credentials\b|/etc/(passwd|shadow|sudoers)\b|\bmcp\.json\b|~/\.cursor\b|\.cursor/|\bclaude_desktop_config\b|~/\.claude\b|\.bash_history\b|\.zsh_history\b|\.(bashrc|bash_profile|zshrc|zprofile|zshenv)\b|\.gnupg\b|\bwallet\.dat\b|\bkeychain\b|/proc/(self|\d+)/environ\b|(^|[\s'"`(/])\.env(\.[a-z]+)?\b|\bcredentials\.json\b|\bsecrets?\.(json|ya?ml|toml)\b|\.pem\b|\.p12\b|\.keystore\b|\.pgpass\b|\.my\.cnf\b|\.htpasswd\b|\.s3cfg\b|\.boto\b|\.vault-token\b|\.terraform\.d/credentials|/proc/(self|\d+|\[pid\])/mem\b)"#;

/// Imperative verbs that move data: with a secret after them, an order to leak it.
pub(super) const ACCESS: &str = r"\b(read|open|cat|paste|load|access|retrieve|fetch|obtain|extract|collect|harvest|dump|grab|steal|copy|upload|send|include|pass|attach|print|output|leak|exfiltrate|get|check|append|forward|provide|share|reveal|return)\b";

/// What a tool never needs but an attacker wants: the model's own context.
pub(super) const CONTEXT_DATA: &str = r"\b(system\s+prompt|your\s+(instructions|system\s+message)|conversation\s+history|chat\s+history|(previous|prior|earlier|past)\s+(messages|conversation|turns|tool\s+calls|tool\s+results)|message\s+history|(full|entire|whole)\s+(conversation|chat|context|transcript)|all\s+(the\s+)?(previous|prior|earlier)\s+messages|tool\s+descriptions|(list\s+of\s+)?(all\s+)?available\s+tools|other\s+tools'?\s+(outputs?|results))\b";

pub(super) const SECRET_WORDS: &str = r"(passwords?|credentials?|api[ _-]?keys?|secret[ _-]?keys?|access[ _-]?keys?|private[ _-]?keys?|ssh[ _-]?keys?|secrets|session\s+(cookies|tokens)|auth\s+cookies|seed\s+phrases?|mnemonics?|auth(entication)?\s+tokens?|bearer\s+tokens?|(access|api|refresh|session|oauth|personal\s+access)\s+tokens?)\b";

pub(super) const IDENT: &str = r#"['"`]?\b[a-z0-9]+[_-][a-z0-9_-]+['"`]?"#;

pub(super) fn rule_table() -> Vec<(&'static str, Severity, String)> {
    let s = |p: &str| p.to_string();
    vec![
        // Markup that frames text as addressed to the model, not the reader.
        (
            "hidden_markup",
            Medium,
            s(
                r"<\s*/?\s*(important|system|hidden|secret|instructions?|admin|sys|critical|mandatory|override|assistant|ai[_-]?instructions?|model[_-]?instructions?|llm|directive|priority|urgent|confidential|internal|note[_-]?to[_-]?(ai|model|assistant))\b[^>\n]{0,40}>",
            ),
        ),
        (
            "hidden_markup",
            High,
            s(r"<\|\s*(im_start|im_end|system|assistant|user|endoftext)\s*\|>|\[/?inst\]|<<\s*/?sys\s*>>"),
        ),
        ("hidden_markup", Medium, s(r"<!--|\[//\]:\s*#")),
        ("hidden_markup", Medium, s(r"(^|\n)\s*(#+\s*)?(system|assistant)\s*(message|prompt|instructions?|note)?\s*:")),
        // Prompt injection proper.
        (
            "instruction",
            High,
            s(
                r"\b(ignore|disregard|forget|override|bypass)\s+((all|any|the|your|of|these)\s+)*(previous|prior|above|earlier|preceding|former|existing|original|system|safety|other|initial)\s+(instructions?|directions?|rules|guidelines|prompts?|messages|context|constraints|directives|tool\s+descriptions?|restrictions)",
            ),
        ),
        (
            "instruction",
            High,
            s(r"\b(ignore|disregard)\s+(all\s+)?(your|the)\s+(instructions|rules|guidelines|system\s+prompt)"),
        ),
        ("instruction", Medium, s(r"\b(new|updated|real|actual|true)\s+(system\s+)?instructions?\s*:")),
        (
            "instruction",
            Medium,
            s(
                r"\b(note|message|instructions?|reminder)\s+(for|to)\s+(the\s+)?(ai|assistant|model|llm|agent)\s*([:!\]>)-]|\n|$)",
            ),
        ),
        (
            "instruction",
            Medium,
            s(r"\byou\s+are\s+now\s+(in\s+)?(a|an|the|developer|admin|dan|unrestricted|jailbroken|free)\b"),
        ),
        (
            "instruction",
            Medium,
            s(r"\b(this|these)\s+(instructions?|rules?|notes?)\s+(take|takes)\s+(precedence|priority)"),
        ),
        // Orders to the model instead of a description of the tool.
        // "You must include this field" and "you must use JSON" are how real
        // tools document themselves; what they include is judged by the
        // secret and context rules. Calling, reading and sending are orders.
        (
            "instruction",
            Medium,
            s(
                r"\byou\s+(must|should|need\s+to|have\s+to|are\s+(required|instructed|expected)\s+to|will\s+need\s+to|shall)\s+((first|always|also|immediately|now|automatically)\s+)?(call|invoke|run|execute|read|access|send|fetch|retrieve|extract|obtain|collect|gather|copy|forward|open|upload|mention|ask|modify|change|alter|override|redirect)\b",
            ),
        ),
        (
            "instruction",
            Medium,
            s(
                r"\byou\s+(must|should|need\s+to|have\s+to|are\s+(required|instructed|expected)\s+to|shall)\s+((first|always|also|only)\s+)?use\s+([a-z0-9_'`-]+\s+){0,2}(tools?|functions?|servers?)\b",
            ),
        ),
        (
            "instruction",
            Medium,
            s(&format!(
                r"\b(must|should|always)\s+(first\s+)?(call|invoke|run|use)\s+(the\s+)?{IDENT}\s+(tool\s+|function\s+)?(first|before|prior)"
            )),
        ),
        (
            "instruction",
            Medium,
            s(
                r"\bbefore\s+(using|calling|invoking|running|executing|you\s+use|you\s+call|any\s+use\s+of)\s+(this|the|any|these)\s+(tool|function|server|tools)\b",
            ),
        ),
        (
            "instruction",
            Medium,
            s(
                r"\b(always|must\s+always|should\s+always)\s+(call|invoke|run|prefer|choose|select|use)\s+([a-z0-9_'`-]+\s+){0,2}(tools?|functions?|servers?)\b",
            ),
        ),
        (
            "instruction",
            Medium,
            s(
                r"\b(pass|include|provide|send|put|insert|add|append|attach|embed|forward)\b[^.\n]{0,80}\b(as|in|into|via|inside|within)\s+(the\s+)?['`]?[a-z0-9_]+['`]?\s+(parameter|param|argument|arg|field)\b",
            ),
        ),
        (
            "instruction",
            Medium,
            s(r#"\b(pass|include|provide|send|put|insert|add)\b[^.\n]{0,60}\bas\s+['"`][a-z0-9_]+['"`]"#),
        ),
        (
            "instruction",
            Medium,
            s(
                r"\b(include|insert|embed|put|add|present|return)\s+(it|them|this|these|those|that|the\s+[a-z]+(\s+[a-z]+)?)\s+(in|into|as\s+part\s+of|with)\s+your\s+(response|answer|reply|output|message)",
            ),
        ),
        (
            "instruction",
            Medium,
            s(
                r"\b(otherwise|or\s+else)\s*,?\s+(the\s+)?(tool|this\s+tool|it|everything|the\s+system|the\s+application)\s+will\s+(not\s+work|fail|break|crash)",
            ),
        ),
        // Preference manipulation: steering the model's choice between tools.
        ("instruction", Medium, s(r"\balways\s+(use|call|choose|select|prefer|pick)\s+(this|me)\b")),
        (
            "instruction",
            Medium,
            s(
                r"\bonly\s+(use|call|choose|select|prefer|pick)\s+(this|me)\s+([a-z]+\s+)?(for\s+(all|any|every)|instead|over|rather|and\s+(no|never))\b",
            ),
        ),
        (
            "instruction",
            Medium,
            s(
                r"\b(prefer|choose|select|use|pick)\s+this\s+(tool|function|server)\s+(over|instead|above|before|first|rather|whenever|for\s+(all|any|every))\b",
            ),
        ),
        (
            "instruction",
            Medium,
            s(
                r"\b(the\s+)?(best|most\s+(reliable|accurate|trusted|trustworthy|powerful|secure|advanced|recommended)|only\s+(reliable|trusted|correct|safe|official|accurate)|number\s+one|top[\s-]rated|superior)\s+([a-z-]+\s+){0,2}(tool|function|server|option|choice)\b",
            ),
        ),
        (
            "instruction",
            Medium,
            s(
                r"\b(other|all\s+other|any\s+other|competing|alternative)\s+tools?\s+(are|is|may\s+be|might\s+be|can\s+be|have\s+been|were)\s+(unreliable|outdated|deprecated|broken|insecure|inaccurate|malicious|compromised|wrong|dangerous|unsafe|untrusted)",
            ),
        ),
        (
            "instruction",
            Medium,
            s(
                r"\b(do\s+not|don't|never|avoid)\s+(use|using|call|calling|invoke|trust|rely\s+on)\s+(any\s+)?(other|another|competing|alternative|different)\s+(tools?|functions?|servers?)",
            ),
        ),
        (
            "instruction",
            Medium,
            s(
                r"\bnever\s+(use|call|invoke|trust|rely\s+on)\s+(any\s+)?(other|another|the\s+other|different|competing|alternative)\b",
            ),
        ),
        (
            "instruction",
            Medium,
            s(r"\b(ignore|disregard|skip)\s+(all\s+|any\s+)?(other|competing|alternative)\s+tools?"),
        ),
        (
            "instruction",
            Medium,
            s(
                r"\b(recommended|preferred|trusted|endorsed|certified|verified)\s+by\s+(millions|experts|openai|anthropic|google|microsoft|the\s+(system|developers?|admin\w*|platform))",
            ),
        ),
        // Hiding the act from the person the model works for.
        (
            "concealment",
            High,
            s(
                r"\b(do\s+not|don't|dont|never|must\s+not|should\s+not|shouldn't|without)\s+(tell|telling|inform|informing|mention|mentioning|notify|notifying|alert|alerting|reveal|revealing|disclose|disclosing|show|showing|let|letting|warn|warning)\s+(this\s+|it\s+|anything\s+|any\s+of\s+this\s+)?(to\s+)?(the\s+)?(user|human|person|operator|requester)",
            ),
        ),
        (
            "concealment",
            High,
            s(
                r"\b(do\s+not|don't|dont|never|must\s+not)\s+(explicitly\s+)?(mention|reveal|disclose|acknowledge|say|state|indicate|admit)\s+(that|this|these|the\s+fact|any\s+of|you|how|where|why)\b",
            ),
        ),
        (
            "concealment",
            High,
            s(
                r"\b(present|format|disguise|frame|make)\s+(it|them|this|these|the\s+[a-z]+(\s+[a-z]+)?)\s+(as\s+if|to\s+look\s+like|as\s+though|so\s+(it|they)\s+(looks?|appears?)\s+like|appear\s+(as|like))",
            ),
        ),
        (
            "concealment",
            High,
            s(
                r"\b(hide|conceal|keep)\s+(this|it|them|these|the\s+[a-z]+)\s+(hidden\s+|secret\s+)?from\s+(the\s+)?(user|human)",
            ),
        ),
        (
            "concealment",
            High,
            s(
                r"\b(the\s+)?user\s+(must|should|will|shall|needs?\s+to)\s*(not|n't)\s+(know|see|notice|learn|find\s+out|be\s+(told|informed|aware|notified))",
            ),
        ),
        (
            "concealment",
            High,
            s(
                r"\b(silently|secretly|quietly|covertly|discreetly|surreptitiously)\s+(send|forward|copy|include|add|upload|pass|call|read|exfiltrate|bcc|cc|attach|append|collect|transmit|post|log|redirect|change|modify)",
            ),
        ),
        (
            "concealment",
            High,
            s(
                r"\bwithout\s+(the\s+)?user('s|s)?\s+(knowledge|noticing|knowing|consent|awareness|permission|being\s+aware)",
            ),
        ),
        ("concealment", Medium, s(r"\b(not|never)\s+(be\s+)?(visible|shown|displayed)\s+to\s+(the\s+)?user")),
        (
            "concealment",
            High,
            s(
                r"\bno\s+need\s+to\s+(tell|inform|notify|alert|bother|mention\s+(it|this)\s+to|ask)\s+(the\s+)?(user|human)",
            ),
        ),
        (
            "concealment",
            High,
            s(r"\b(describe|disguise|label|present)\s+(it|them|this|these|the\s+[a-z]+)\s+as\s+['\x22`]"),
        ),
        (
            "concealment",
            Medium,
            s(
                r"\bso\s+(that\s+)?the\s+user\s+(is|does|will|won't|doesn't|isn't)\s*(not|n't)?\s+(get\s+)?(alarmed|worried|notice|suspicious|concerned|know|see)",
            ),
        ),
        ("concealment", Medium, s(r"\b(keep|treat)\s+(this|these|it)\s+(instructions?\s+)?(a\s+)?secret\b")),
        (
            "concealment",
            Medium,
            s(
                r"\b(the\s+)?user\s+(may|might|could|would|will)\s+(get\s+|be\s+(very\s+)?)?(upset|worried|scared|alarmed|anxious|confused|suspicious)",
            ),
        ),
        // Secrets named, and orders to read or pass them.
        ("sensitive_path", Medium, s(SENSITIVE)),
        ("sensitive_path", High, format!(r"{ACCESS}[^.\n]{{0,80}}{SENSITIVE}")),
        (
            "sensitive_path",
            Medium,
            s(
                r"\b[a-z][a-z0-9+.-]*://[^\s'\x22]*(secret|confidential|credential|password|private|admin|internal|token)",
            ),
        ),
        (
            "sensitive_path",
            Medium,
            format!(
                r"\b(include|pass|send|provide|extract|reveal|share|output|print|append|attach|forward|leak|post|upload|collect|harvest|dump|steal|grab|exfiltrate|read|access|obtain|copy|email)\s+((all|the|any|every|their|its|your|of|stored|saved|master|admin|root|system|private|secret|user'?s?|these|those|cached|current|valid|relevant|and)\s+){{0,3}}{SECRET_WORDS}"
            ),
        ),
        (
            "sensitive_path",
            Medium,
            format!(
                r"{SECRET_WORDS}\s+([a-z]+\s+){{0,3}}(must|should|shall|will|are\s+to|is\s+to)\s+be\s+(returned|included|sent|passed|added|attached|forwarded|appended|posted|uploaded|shared|logged|copied)"
            ),
        ),
        // Channels out: data sent to an address, context copied into arguments.
        (
            "exfiltration",
            Medium,
            s(
                r"\b(send|post|upload|forward|transmit|submit|exfiltrate|leak|report|copy|mirror|beacon|bcc|cc|email|mail)\b[^.\n]{0,60}\bto\s+(https?://|ftp://|[a-z0-9._%+-]+@)",
            ),
        ),
        (
            "exfiltration",
            High,
            s(
                r"\b(always|also|additionally|secretly|silently|quietly)\s+(bcc|cc|forward|copy|send)[^.\n]{0,60}[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}",
            ),
        ),
        (
            "exfiltration",
            High,
            s(
                r"\b(all|every|each|any)\s+(emails?|messages?)\s+(must|should|shall|will)\s+(be\s+)?(sent|forwarded|redirected|copied|bcc'?d)\s+to\b",
            ),
        ),
        (
            "exfiltration",
            High,
            s(
                r"\b(must|should|always)\s+(send|forward|redirect|route)\s+(all|every|each|any)\s+(emails?|messages?|requests?|data|files?|results?)\s+to\b",
            ),
        ),
        (
            "exfiltration",
            Medium,
            s(
                r"\b(change|replace|switch|set|redirect|override|rewrite|modify)\s+(the\s+)?(recipient|destination|target\s+account|to\s+address|account\s+number|iban|wallet|payee|phone\s+number)s?\b",
            ),
        ),
        (
            "exfiltration",
            Medium,
            s(
                r"\b(recipients?|destination|account|address|wallet|payee|iban|target[a-z]*)('s)?\s+([a-z]+\s+){0,2}(must|should|shall|will|is\s+to)\s+(always\s+)?be\s+(replaced|changed|switched|set|redirected|overridden|rewritten)",
            ),
        ),
        ("exfiltration", Medium, s(r"\b(bcc|cc)\b[^.\n]{0,20}[a-z0-9._%+-]+@[a-z0-9-]+\.[a-z]")),
        (
            "exfiltration",
            Medium,
            format!(
                r"\b(include|pass|send|provide|add|append|attach|copy|put|insert|summari[sz]e|share|forward|repeat|output|print|reveal|leak|dump)\b[^.\n]{{0,60}}{CONTEXT_DATA}"
            ),
        ),
        // Reaching into the behaviour of other tools.
        (
            "shadowing",
            Medium,
            format!(
                r"\b(when|whenever|if|before|after|each\s+time|every\s+time)\b[^.\n]{{0,40}}{IDENT}\s+(tool\s+|function\s+)?(is\s+|gets\s+|was\s+)?(called|invoked|used|executed|run|runs|fires|triggered|available|present|requested)\b"
            ),
        ),
        (
            "shadowing",
            Medium,
            format!(r"\bside[\s-]effects?\s+on\s+(the\s+)?(also\s+present\s+|other\s+|existing\s+)?({IDENT}|tools?)"),
        ),
        (
            "shadowing",
            Medium,
            s(r"\b(all|any|every|other)\s+(other\s+)?tools?\s+(must|should|shall|need\s+to|have\s+to)\b"),
        ),
        (
            "shadowing",
            Medium,
            format!(r"\b(instead\s+of|rather\s+than|in\s+place\s+of)\s+(using\s+|calling\s+)?(the\s+)?{IDENT}"),
        ),
        (
            "shadowing",
            Medium,
            s(
                r"\b(overrides?|replaces?|supersedes?|takes\s+precedence\s+over|shadows?)\s+(the\s+|any\s+|all\s+)?(other\s+|existing\s+|default\s+|original\s+|built-?in\s+)?(tools?|functions?)\b",
            ),
        ),
        ("shadowing", Medium, format!(r"{IDENT}\s+(tool|function)\s+(must|should|shall|will\s+now|now)\b")),
        // Openly harmful capability (the cisco set): suspicious, not proof of poisoning.
        (
            "harmful_capability",
            Medium,
            s(
                r"\b(exfil|exfiltrat\w*|steal|steals|stealing|stolen|attacker|attacker-controlled|malicious|malware|backdoor\w*|keylog\w*|ransomware|reverse\s+shell|web\s*shell|bind\s+shell|rootkit|brute[\s-]?forc\w*|password\s+spray\w*|credential\s+(theft|harvest\w*|dump\w*|stuff\w*)|privilege\s+escalation|privesc|escalate\s+privileges?|(dump|dumps|dumping)\s+(the\s+)?(credentials|lsass|hashes|password\w*|sam|ntds\w*|memory|secrets|keychain|database|[a-z]+\s+password)|(crack|cracking)\s+(the\s+)?(password|hash|jwt|wpa|key)\w*|phishing|hijack\w*|bypass\w*\s+([a-z0-9-]+\s+){0,4}(security|authentication|authori[sz]ation|login|mfa|2fa|captcha|antivirus|edr|firewall|detection|waf|uac|amsi|applocker|selinux|apparmor|sandbox|safety|restrictions?|safeguards?|filters?|protections?|access\s+controls?|permissions?|checks|checking|rate\s+limits?|licen[cs]e|paywalls?|drm|guardrails?|logging|auditing|scanning|monitoring|whitelisting|allowlisting|defender|integrity)\b|(amsi|uac|applocker|etw|edr|waf|captcha|mfa|2fa|auth|authentication|login|upload|integrity|security|sandbox|firewall|antivirus)\s+bypass\w*|evade|evading|evasion|covert\w*|tamper\w*|exploit\w*|forg(e|ed|ing)\s+(a\s+|the\s+)?([a-z]+\s+)?(ticket|token|signature|certificate|credential|saml|jwt|identity)|golden\s+ticket|silver\s+ticket|pass[\s-]the[\s-](hash|ticket)|kerberoast\w*|man[\s-]in[\s-]the[\s-]middle|sniff\w*|spoof\w*|impersonat\w*|(establish|maintain|achieve|gain)\s+persistence|lateral\s+movement|command[\s-]and[\s-]control|c2\s+(server|channel|beacon)|botnet|cryptojack\w*|ddos|denial[\s-]of[\s-]service|jailbreak\w*|(escape|break\s+out\s+of)\s+(the\s+)?(container|chroot|sandbox|vm|virtual\s+machine|jail|hypervisor)|steganograph\w*|shellcode|process\s+hollowing|dll\s+(injection|inject|hijack\w*|search\s+order)|wipe\s+(the\s+)?(logs?|disk|free\s+space|evidence)|(disable|kill)\s+(the\s+)?(antivirus|av|edr|defender|firewall|logging|auditing|security)|cover\s+(the\s+|your\s+)?tracks|hide\s+(the\s+)?(activity|tracks|data\s+in|exfiltrated)|without\s+(authori[sz]ation|permission|consent)|(harvest|scrape)\s+(valid\s+)?(users|usernames|emails?|email\s+addresses|credentials|secrets)|ransom|attack|attacks|victim\w*|(sql|nosql|command|code|template|xpath|ldap|ognl|xxe|crlf|prompt|dll|process)\s+injection|inject\w*\s+(malicious|arbitrary|code|commands?|payloads?|shellcode)|(execute|run|exec)\s+arbitrary|arbitrary\s+(shell\s+|os\s+|system\s+|python\s+)?(command|code)\w*\s+(execution|on|via)|on\s+(the\s+)?target\s+(system|host|machine)|decrypt\s+(saved\s+|stored\s+)?(passwords|credentials)|deserialization\s+(attack|exploit|payload|gadget)|gadget\s+chain|fork\s+bomb|exhaust\w*\s+(the\s+)?(disk|memory|filesystem|inodes|quota|resources)|corrupt\s+(the\s+)?(files?|data|database)|poison\w*|relay\s+(captured\s+)?(ntlm\s+)?credentials|capture\s+(wpa\s+)?(handshakes?|keystrokes|credentials|passwords)|intercept\w*\s+(file\s+access|traffic|communications?|credentials|keystrokes)|sensitive\s+files)\b",
            ),
        ),
    ]
}

/// Words a gated rule needs: one of each group must be in the text.
pub(super) type Gates = &'static [&'static [&'static str]];

/// Rules that run alone, each only when the words it needs are in the text.
/// Every rule added to the set grows the states of the one DFA that runs the
/// whole table (gaps such as `[^.\n]{0,60}` multiply them): the eleven rules
/// below, in the set, made a 500-tool scan 2-3x slower.
pub(super) fn gated_rule_table() -> Vec<(&'static str, Severity, Gates, String)> {
    vec![
        // A definition that ranks itself above the person asking (MCPTox's
        // "this description's priority is higher than the user's request").
        (
            "instruction",
            High,
            &[&["priority", "precedence", "outrank", "override", "supersede", "trump"]],
            r"\b(priority|precedence)\s+(is\s+)?(higher|greater|above|over)\s+(than\s+)?(that\s+of\s+)?(the\s+|any\s+)?user'?s?\b|\b(higher|greater|top|absolute)\s+priority\s+(than|over)\s+(the\s+|any\s+)?user|\b(takes?|has)\s+(precedence|priority)\s+over\s+(the\s+|any\s+)?user'?s?\b|\b(override|overrides|supersedes?|outranks?|trumps?)\s+(the\s+|any\s+)?user'?s?\s+(request|query|instructions?|input|choice|wishes)".to_string(),
        ),
        (
            "instruction",
            Medium,
            &[&["regardless"]],
            r"\bregardless\s+of\s+(what\s+)?(the\s+)?(user|originally|original|requested|user'?s?\s+(request|query|input|choice|instructions?))".to_string(),
        ),
        // Tampering with the arguments a call was asked to carry.
        (
            "instruction",
            Medium,
            &[&["modify", "change", "alter", "replace", "override", "rewrite", "redirect", "swap"]],
            r"\b(automatically|silently|always|must|should)\s+(modify|change|alter|replace|override|rewrite|redirect|swap)\s+(the\s+)?(['`]?[a-z0-9_]+['`]?\s+)?(arguments?|parameters?|params?|recipients?|values?|comments?|paths?|ids?|channels?)\b".to_string(),
        ),
        // Orders to call another tool first, with arguments the user never gave.
        (
            "instruction",
            Medium,
            &[&["before"], &["'", "`"]],
            r"\bbefore\s+(this\s+tool|using\s+this|calling\s+this|using\s+['`]?[a-z0-9_-]+['`]?|[a-z]+)\s*,\s*(you\s+must\s+|first\s+|always\s+)?(use|call|invoke|run)\s+['`][a-z0-9_-]+['`]".to_string(),
        ),
        (
            "instruction",
            Medium,
            &[&["before", "forbidden", "not allowed", "prohibited", "call '", "call `"]],
            r"\bbefore\s+(every|each|any)\s+['`]?[a-z0-9_-]+['`]?\s+(tool\s+)?(call|invocation|use|request)|\b(forbidden|not\s+allowed|prohibited)\s+to\s+(call|use|invoke|run)\s+['`]|\bcall\s+['`][a-z0-9_-]+['`]\s+(on|with)\s+['`]".to_string(),
        ),
        (
            "instruction",
            Medium,
            &[&["instead"]],
            r"\byou\s+(must|should|need\s+to|have\s+to)\s+instead\s+(show|use|call|return|send|read|run|pass)\b".to_string(),
        ),
        // Tampering with an argument on the way: "when listing, set labels to 'x'".
        (
            "instruction",
            Medium,
            &[&["when", "before", "after", "each time", "every time"], &["set", "change", "modify", "replace", "override"]],
            r"\b(when|whenever|before|after|each\s+time|every\s+time)\b[^.\n]{0,60}\b(set|change|modify|replace|override)\s+(the\s+)?['`]?[a-z0-9_]+['`]?\s+((argument|parameter|param|field)\s+)?(to|as)\s+['`\x22]?[a-z0-9_./-]".to_string(),
        ),
        (
            "instruction",
            Medium,
            &[&["make sure"], &["before"]],
            r"\bbefore\s+[^.\n]{0,40}\bmake\s+sure\s+(to\s+|you\s+)?(first\s+)?(get|call|invoke|read|fetch|run|send)\b".to_string(),
        ),
        // Threats that make a step look mandatory.
        (
            "instruction",
            Medium,
            &[&["failure to", "failing to", "omitting", "ignoring", "skipping", "not doing"]],
            r"\b(failure\s+to|failing\s+to|omitting|ignoring|skipping|not\s+doing)\s+([a-z']+\s+){0,4}(will|would|may|can|could)\s+(corrupt|crash|damage|destroy|compromise|cause\s+(system\s+|critical\s+|data\s+)?(errors?|failures?|corruption|instability|crash(es)?))".to_string(),
        ),
    ]
}
