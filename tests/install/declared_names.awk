# declared_names.awk — the names that preprocessed C text (on stdin) declares
# at file scope, one per line: "F name" for a function, "N name" for any
# other (typedef name, variable, struct/union/enum tag, enumerator).
# Members and parameters are not file-scope names and are skipped. Good
# enough for declarations as headers write them, not a C parser.
BEGIN {
	split("auto _Bool char const double extern float inline int long register restrict " \
	      "short signed sizeof static typedef unsigned void volatile", kw, " ")
	for (k in kw)
		keyword[kw[k]] = 1
}

function ident(t) { return t ~ /^[A-Za-z_][A-Za-z0-9_]*$/ && !(t in keyword) }
function emit(kind, name) { if (name !~ /^__/) print kind, name }

{
	line = $0
	while (length(line) > 0) {
		if (match(line, /^[ \t\r]+/)) {
			line = substr(line, RLENGTH + 1)
			continue
		}
		if (match(line, /^"([^"\\]|\\.)*"/) || match(line, /^'([^'\\]|\\.)*'/))
			tok = "LIT"
		else if (match(line, /^[A-Za-z_][A-Za-z0-9_]*/) || match(line, /^[0-9][A-Za-z0-9_.]*/))
			tok = substr(line, 1, RLENGTH)
		else {
			RLENGTH = 1
			tok = substr(line, 1, 1)
		}
		line = substr(line, RLENGTH + 1)
		T[++n] = tok
	}
}

END {
	brace = 0
	paren = 0
	for (i = 1; i <= n; i++) {
		t = T[i]
		if (t == "{") {
			brace++
			in_enum[brace] = (enum_next == 1)
			enum_next = 0
			first[brace] = 1
			continue
		}
		if (t == "}") {
			in_enum[brace] = 0
			brace--
			continue
		}
		if (t == "(") { paren++; continue }
		if (t == ")") { paren--; continue }
		if (t == "struct" || t == "union" || t == "enum") {
			if (ident(T[i + 1]))
				emit("N", T[i + 1])
			if (t == "enum" && (T[i + 1] == "{" || (ident(T[i + 1]) && T[i + 2] == "{")))
				enum_next = 1
			continue
		}
		if (brace > 0 && in_enum[brace] && paren == 0) {
			if (ident(t) && (T[i - 1] == "{" || T[i - 1] == ","))
				emit("N", t)
			continue
		}
		if (brace > 0 || !ident(t))
			continue
		nx = T[i + 1]
		if (paren == 0 && nx == "(")
			emit("F", t)
		else if (paren == 0 && (nx == ";" || nx == "," || nx == "[" || nx == "="))
			emit("N", t)
		else if (paren == 1 && T[i - 1] == "*" && T[i - 2] == "(" && nx == ")")
			emit("N", t)
	}
}
