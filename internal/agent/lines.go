package agent

import (
	"fmt"
	"strings"
)

// keyLines maps every key of a TOML document to the line that sets it, with
// arrays of tables indexed: "inputs.can[1].dbc". It reads the common forms
// (tables, arrays of tables, key = value, dotted and quoted keys, multi-line
// strings and arrays); the parser has already accepted the document, so it
// only needs to find where things are.
func keyLines(data []byte) map[string]int {
	out := map[string]int{}
	counts := map[string]int{} // array of tables path -> entries so far
	table := ""
	inString := "" // the closing quotes of a multi-line string being skipped
	depth := 0     // brackets open in a multi-line value
	for n, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if inString != "" {
			if strings.Contains(line, inString) {
				inString = ""
			}
			continue
		}
		if depth > 0 {
			depth += bracketDelta(line)
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		set := func(k string) {
			if _, ok := out[k]; !ok {
				out[k] = n + 1
			}
		}
		if strings.HasPrefix(line, "[[") {
			end := strings.Index(line, "]]")
			if end < 0 {
				continue
			}
			name := normKey(line[2:end])
			base := indexed(name, counts)
			i := counts[base]
			counts[base] = i + 1
			table = fmt.Sprintf("%s[%d]", base, i)
			set(table)
			continue
		}
		if line[0] == '[' {
			end := strings.Index(line, "]")
			if end < 0 {
				continue
			}
			table = indexed(normKey(line[1:end]), counts)
			set(table)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key := normKey(k)
		if table != "" {
			key = table + "." + key
		}
		set(key)
		v = strings.TrimSpace(v)
		for _, q := range []string{`"""`, `'''`} {
			if strings.HasPrefix(v, q) && !strings.Contains(v[3:], q) {
				inString = q
			}
		}
		if inString == "" {
			depth = bracketDelta(v)
			if depth < 0 {
				depth = 0
			}
		}
	}
	return out
}

// indexed rewrites a table path so that each prefix that is an array of
// tables names its current entry: inputs.can.signal -> inputs.can[0].signal.
func indexed(path string, counts map[string]int) string {
	parts := strings.Split(path, ".")
	cur := ""
	for i, p := range parts {
		if i > 0 {
			cur += "."
		}
		cur += p
		if i < len(parts)-1 {
			if n, ok := counts[cur]; ok && n > 0 {
				cur = fmt.Sprintf("%s[%d]", cur, n-1)
			}
		}
	}
	return cur
}

// normKey strips spaces and quotes from a dotted key.
func normKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

// bracketDelta counts [ and { minus ] and } outside strings and comments.
func bracketDelta(s string) int {
	d := 0
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == '\\' && q == '"' {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '#':
			return d
		case c == '[' || c == '{':
			d++
		case c == ']' || c == '}':
			d--
		}
	}
	return d
}

// lineOf finds key's line, or that of its nearest enclosing table.
func lineOf(lines map[string]int, key string) int {
	for k := key; k != ""; {
		if n, ok := lines[k]; ok {
			return n
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

// lineOfUnindexed finds a key given without array indexes (as the TOML
// decoder reports unknown keys): the first match in any entry.
func lineOfUnindexed(lines map[string]int, key string) int {
	best := 0
	for k, n := range lines {
		if stripIndexes(k) == key && (best == 0 || n < best) {
			best = n
		}
	}
	return best
}

func stripIndexes(k string) string {
	var b strings.Builder
	skip := false
	for _, r := range k {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}
