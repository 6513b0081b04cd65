# Flattens the JSON that `mpsmig list --json` prints (jansson, two-space indent: one value or one
# opening/closing bracket a line) into "path<TAB>value" lines, e.g.
#   gpus.0.uuid	GPU-8f8bff94-...      gpus.0.mig_devices.1.sm_count	14      targets.0	MIG-...
# Strings lose their quotes, null stays null, empty containers print as [] or {}. Used where jq
# may be missing (CI's Debian packages, the GPU machine). A line it does not understand makes it
# exit 1, so a change of format cannot pass unnoticed.
function unquote(value) {
        sub(/,$/, "", value)
        if (value ~ /^".*"$/) {
                value = substr(value, 2, length(value) - 2)
                gsub(/\\"/, "\"", value)
                gsub(/\\\\/, "\\", value)
        }
        return value
}

function open_container(full, bracket) {
        depth++
        path[depth] = full
        kind[depth] = bracket == "{" ? "object" : "array"
        count[depth] = 0
}

function join(prefix, key) {
        return prefix == "" ? key : prefix "." key
}

{
        line = $0
        sub(/^ +/, "", line)
}

depth == 0 && line == "{" {
        open_container("", line)
        next
}

depth == 0 {
        bad = 1
}

# "key": value   "key": {   "key": [   "key": []   "key": {}
!bad && kind[depth] == "object" && match(line, /^"[^"]*": /) {
        full = join(path[depth], substr(line, 2, RLENGTH - 4))
        rest = substr(line, RLENGTH + 1)
        if (rest == "{" || rest == "[")
                open_container(full, rest)
        else if (rest ~ /^(\[\]|\{\}),?$/)
                printf "%s\t%s\n", full, substr(rest, 1, 2)
        else
                printf "%s\t%s\n", full, unquote(rest)
        next
}

!bad && line ~ /^[\]\}],?$/ {
        depth--
        next
}

!bad && kind[depth] == "array" && (line == "{" || line == "[") {
        open_container(join(path[depth], count[depth]++), line)
        next
}

!bad && kind[depth] == "array" {
        printf "%s\t%s\n", join(path[depth], count[depth]++), unquote(line)
        next
}

{
        printf "list_fields.awk: cannot read line %d: %s\n", NR, $0 > "/dev/stderr"
        failed = 1
        exit 1
}

END {
        if (!failed && (NR == 0 || depth != 0)) {
                printf "list_fields.awk: incomplete document (%d lines, depth %d)\n", NR, depth > "/dev/stderr"
                exit 1
        }
}
