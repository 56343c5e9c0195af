package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// upstreamIn and routeIn are the wire forms the admin API accepts. They
// differ from Upstream and Route only where JSON cannot tell "absent" from
// zero: an upstream without a weight gets DefaultWeight.
type upstreamIn struct {
	URL    string `json:"url"`
	Weight *int   `json:"weight"`
}

type routeIn struct {
	Host        string            `json:"host"`
	PathPrefix  string            `json:"path_prefix"`
	Upstreams   []upstreamIn      `json:"upstreams"`
	Group       string            `json:"group"`
	TimeoutMS   int               `json:"timeout_ms"`
	Retries     int               `json:"retries"`
	StripPrefix bool              `json:"strip_prefix"`
	SetHeaders  map[string]string `json:"set_headers"`
}

type createIn struct {
	ID string `json:"id"`
	routeIn
}

type groupIn struct {
	Upstreams []upstreamIn `json:"upstreams"`
}

// DecodeRoute reads one route from a JSON document, normalizes and
// validates it. It refuses unknown fields, a document that is not a single
// JSON object, and trailing data. Errors are *ValidationError (wrapping
// ErrInvalid).
func DecodeRoute(r io.Reader) (Route, error) {
	var in routeIn
	if err := decodeStrict(r, &in); err != nil {
		return Route{}, err
	}
	return in.route()
}

// DecodeNewRoute reads a route together with its ID (an "id" field beside
// the route's fields), for creating a route whose ID the client chooses in
// the body. Errors as DecodeRoute, plus a *ValidationError for a bad ID.
func DecodeNewRoute(r io.Reader) (string, Route, error) {
	var in createIn
	if err := decodeStrict(r, &in); err != nil {
		return "", Route{}, err
	}
	if err := ValidateID(in.ID); err != nil {
		return "", Route{}, err
	}
	rt, err := in.route()
	return in.ID, rt, err
}

// DecodeGroup reads one upstream group from a JSON document and validates
// it, with DecodeRoute's strictness.
func DecodeGroup(r io.Reader) (Group, error) {
	var in groupIn
	if err := decodeStrict(r, &in); err != nil {
		return Group{}, err
	}
	g := Group{Upstreams: upstreams(in.Upstreams)}
	if err := g.Validate(); err != nil {
		return Group{}, err
	}
	return g, nil
}

func (in *routeIn) route() (Route, error) {
	r := Route{
		Host:        in.Host,
		PathPrefix:  in.PathPrefix,
		Upstreams:   upstreams(in.Upstreams),
		Group:       in.Group,
		TimeoutMS:   in.TimeoutMS,
		Retries:     in.Retries,
		StripPrefix: in.StripPrefix,
		SetHeaders:  in.SetHeaders,
	}
	r.Normalize()
	if err := r.Validate(); err != nil {
		return Route{}, err
	}
	return r, nil
}

func upstreams(in []upstreamIn) []Upstream {
	if len(in) == 0 {
		return nil
	}
	out := make([]Upstream, len(in))
	for i, u := range in {
		out[i] = Upstream{URL: u.URL, Weight: DefaultWeight}
		if u.Weight != nil {
			out[i].Weight = *u.Weight
		}
	}
	return out
}

// decodeStrict decodes exactly one JSON object into v.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	// A body that is not an object ("null", "[]", "3") would decode into
	// nothing or fail with a confusing message; check the first token.
	var first json.RawMessage
	if err := dec.Decode(&first); err != nil {
		return decodeError(err)
	}
	if t := bytes.TrimLeft(first, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return invalid("", "the body must be a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("", "unexpected data after the JSON object")
	}
	inner := json.NewDecoder(bytes.NewReader(first))
	inner.DisallowUnknownFields()
	if err := inner.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

// decodeError turns encoding/json's errors into a *ValidationError that
// names the field where it can. An error from the underlying reader (a
// body over its size limit, a broken connection) is returned wrapped, not
// as a validation error: the caller decides what it means.
func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return invalid("", "the body is empty: a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("", "the JSON document is truncated")
	case errors.As(err, &syn):
		return invalid("", "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(document)"
		}
		return invalid(field, "expected %s, got JSON %s", typ.Type, typ.Value)
	}
	// encoding/json reports an unknown field as a plain error with this
	// text; there is no typed error for it.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unq, err := strconv.Unquote(name); err == nil {
			name = unq
		}
		return invalid(name, "unknown field")
	}
	return fmt.Errorf("reading the body: %w", err)
}
