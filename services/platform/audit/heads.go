// Signed chain heads: tamper evidence against whoever owns the database.
//
// The chains alone are unkeyed hashes kept in the database they protect, so
// someone who can write that database (its owner, a DBA, a stolen superuser
// password) can rewrite an entry and then recompute every later hash and the
// head; [Verify] passes. A [HeadSigner] closes that gap: beside each service
// it signs the chain heads (each chain's last position and hash) every
// minute with an Ed25519 key the database does not hold, and publishes each
// signed record as a new file in a directory outside the database. Because
// each entry's hash covers the one before it, a rewrite changes the hash of
// every entry from the first changed one onward, and so the hash at every
// signed head at or after it: [VerifySigned] compares the entry now at each
// signed head's position with the signed hash and reports the earliest that
// differs, and the interval (between two signed heads) where the change lies.
// [Verify] and [VerifySigned] belong together: Verify shows the chain is
// consistent up to its head, VerifySigned that it still passes through what
// was signed. Entries newer than the last signed record are covered by the
// chain alone until the next one.
//
// It holds only as far as the key and the directory are out of the
// database owner's reach: the key comes from the service's environment (a
// secret), never from the database, and the directory should be storage the
// owner cannot rewrite (another host, an append-only or object-locked
// bucket, a copy shipped elsewhere). The records hold no secret and no
// identity, only positions and hashes, so they may be copied freely.
//
// Wiring a service (TONGBAN_AUDIT_SIGNING_KEY is "kid:base64 of a 32-byte
// Ed25519 seed", as token.NewKey makes; TONGBAN_AUDIT_HEADS_DIR the
// directory):
//
//	key, err := audit.ParseSigningKey(os.Getenv("TONGBAN_AUDIT_SIGNING_KEY"))
//	…
//	signer := &audit.HeadSigner{Pool: pool, Service: "intake", Key: key, Dir: os.Getenv("TONGBAN_AUDIT_HEADS_DIR")}
//	g.Go(func() error { return signer.Run(ctx) }) // returns nil when ctx ends
//
// The gateway, whose schema is not named after it, sets Schema: "accounts".
// The public key to give the checker (tools/auditverify -public-keys, or
// TONGBAN_AUDIT_PUBLIC_KEYS) is [SigningKey.PublicKey].
//
// # The record
//
// Each record is a JSON file Dir/<schema>/<signed_at>.json (the folder is
// named by Schema, or by Service when Schema is empty; the file by the UTC
// signing time as 20261207T010203.000000000Z, so names sort in time order).
// Files are written to a temporary name and linked into place, never
// overwriting one, so the series only grows:
//
//	{
//	  "format": "tongban.audit.heads.v1",
//	  "service": "intake",
//	  "signed_at": "2026-12-07T01:02:03.123456789Z",
//	  "key_id": "audit-2026",
//	  "heads": [{"chain": 0, "seq": 1207, "hash": "9f86d0…"}, …],
//	  "signature": "base64 of 64 bytes"
//	}
//
// ("schema" appears when set; "seq" is the chain's last position, as in
// audit_chains; "hash" is hex.) The signature is Ed25519 (pure, no
// prehash) over this byte string, each field written as its length in
// bytes (an unsigned varint, as [encoding/binary.PutUvarint]) followed by
// its bytes, as the entries' own hash does, so no field can bleed into the
// next:
//
//	"tongban.audit.heads.v1", service, schema ("" when none),
//	signed_at (UTC, RFC 3339 with nanoseconds, trailing zeros dropped, as
//	[time.RFC3339Nano]), key_id, the number of heads (decimal), then per
//	head in the record's order: chain (decimal), seq (decimal), hash (its
//	raw bytes).
package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongban/tongban/services/platform/logging"
)

// HeadsFormat is the format (and the signature's domain) of a record.
const HeadsFormat = "tongban.audit.heads.v1"

// SignedHeads is one signed record of a schema's chain heads.
type SignedHeads struct {
	Format   string    `json:"format"`
	Service  string    `json:"service"`
	Schema   string    `json:"schema,omitempty"`
	SignedAt time.Time `json:"signed_at"`
	KeyID    string    `json:"key_id"`
	Heads    []Head    `json:"heads"`
	// Signature is Ed25519 over the record's canonical bytes (see the
	// package documentation); base64 in JSON.
	Signature []byte `json:"signature"`
	// File is where LoadSigned read the record from (not part of it).
	File string `json:"-"`
}

// Head is a chain's head: its last position and that entry's hash.
type Head struct {
	Chain int16
	Seq   int64
	Hash  []byte
}

type headJSON struct {
	Chain int16  `json:"chain"`
	Seq   int64  `json:"seq"`
	Hash  string `json:"hash"`
}

// MarshalJSON writes the hash in hex.
func (h Head) MarshalJSON() ([]byte, error) {
	return json.Marshal(headJSON{Chain: h.Chain, Seq: h.Seq, Hash: hex.EncodeToString(h.Hash)})
}

// UnmarshalJSON reads the hash from hex.
func (h *Head) UnmarshalJSON(b []byte) error {
	var j headJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	sum, err := hex.DecodeString(j.Hash)
	if err != nil {
		return fmt.Errorf("head of chain %d: hash: %w", j.Chain, err)
	}
	*h = Head{Chain: j.Chain, Seq: j.Seq, Hash: sum}
	return nil
}

// Subdir is the folder of the heads directory the record belongs in: its
// schema, or its service when the schema is not set.
func (r *SignedHeads) Subdir() string {
	if r.Schema != "" {
		return r.Schema
	}
	return r.Service
}

// name is the record's file name, from its signing time: fixed width, so
// that the names sort in time order.
func (r *SignedHeads) name() string {
	return r.SignedAt.UTC().Format("20060102T150405.000000000Z") + ".json"
}

// message is the canonical byte string the signature covers.
func (r *SignedHeads) message() []byte {
	var b bytes.Buffer
	var n [binary.MaxVarintLen64]byte
	field := func(f []byte) {
		b.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		b.Write(f)
	}
	str := func(s string) { field([]byte(s)) }
	str(r.Format)
	str(r.Service)
	str(r.Schema)
	str(r.SignedAt.UTC().Format(time.RFC3339Nano))
	str(r.KeyID)
	str(strconv.Itoa(len(r.Heads)))
	for _, h := range r.Heads {
		str(strconv.Itoa(int(h.Chain)))
		str(strconv.FormatInt(h.Seq, 10))
		field(h.Hash)
	}
	return b.Bytes()
}

// SigningKey is an Ed25519 key and its id (kid).
type SigningKey struct {
	ID      string
	Private ed25519.PrivateKey `json:"-"` // secret: never logged
}

// ParseSigningKey parses "kid:base64 of a 32-byte Ed25519 seed" (the form
// token.NewKey makes), e.g. TONGBAN_AUDIT_SIGNING_KEY.
func ParseSigningKey(s string) (SigningKey, error) {
	kid, seed, err := parseKey(strings.TrimSpace(s), ed25519.SeedSize)
	if err != nil {
		return SigningKey{}, fmt.Errorf("audit: signing key: %w", err) // never the key itself
	}
	return SigningKey{ID: kid, Private: ed25519.NewKeyFromSeed(seed)}, nil
}

// PublicKey is the key's public half, "kid:base64 of 32 bytes", the form
// ParsePublicKeys reads.
func (k SigningKey) PublicKey() string {
	return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Private.Public().(ed25519.PublicKey))
}

// LogValue shows the key's id only.
func (k SigningKey) LogValue() slog.Value { return slog.StringValue(k.ID) }

// ParsePublicKeys parses "kid:base64 of a 32-byte Ed25519 public key,…"
// (comma-separated), e.g. TONGBAN_AUDIT_PUBLIC_KEYS. Old keys stay listed
// after a rotation so the records they signed keep verifying.
func ParsePublicKeys(s string) (map[string]ed25519.PublicKey, error) {
	keys := map[string]ed25519.PublicKey{}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		kid, pub, err := parseKey(part, ed25519.PublicKeySize)
		if err != nil {
			return nil, fmt.Errorf("audit: public keys: %w", err)
		}
		if old, dup := keys[kid]; dup && !bytes.Equal(old, pub) {
			return nil, fmt.Errorf("audit: public keys: two keys named %q", kid)
		}
		keys[kid] = ed25519.PublicKey(pub)
	}
	if len(keys) == 0 {
		return nil, errors.New("audit: public keys: none given")
	}
	return keys, nil
}

func parseKey(s string, size int) (kid string, key []byte, err error) {
	kid, b64, ok := strings.Cut(s, ":")
	key, err = base64.StdEncoding.DecodeString(b64)
	if !ok || kid == "" || strings.ContainsAny(kid, ", ") || err != nil || len(key) != size {
		return "", nil, fmt.Errorf("want \"kid:base64 of %d bytes\"", size)
	}
	return kid, key, nil
}

// HeadSigner signs a schema's chain heads and publishes them outside the
// database (see the package documentation).
type HeadSigner struct {
	// Pool reaches the schema (its search_path), e.g. a *pgxpool.Pool.
	Pool Querier
	// Service names the signer in the records, e.g. "intake".
	Service string
	// Schema is the schema's name when it differs from Service (the
	// gateway's "accounts"); it names the folder of Dir.
	Schema string
	// Key signs; the database never holds it.
	Key SigningKey
	// Dir is the published directory; records go to Dir/<schema>/.
	Dir string
	// Every is how often Run signs (default 1 minute).
	Every time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu   sync.Mutex
	last []Head // the heads of the last record written, nil before the first
}

// Run signs at once and then every Every until ctx ends, when it returns
// nil. A failure to read the heads or write the record is logged and tried
// again at the next tick, so the service keeps serving; only a signer
// missing its pool, key, service or directory returns an error, at once.
func (s *HeadSigner) Run(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	every := s.Every
	if every <= 0 {
		every = time.Minute
	}
	logger := logging.FromContext(ctx).With(slog.String("audit_heads", s.folder()), slog.String("key_id", s.Key.ID))
	tick := time.NewTicker(every)
	defer tick.Stop()
	published := false
	for {
		stepCtx, cancel := context.WithTimeout(ctx, max(every, 30*time.Second))
		path, err := s.SignOnce(stepCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			logger.ErrorContext(ctx, "audit heads not signed; trying again at the next tick", slog.String("error", err.Error()))
		case path != "" && !published:
			published = true
			logger.InfoContext(ctx, "audit heads signed and published", slog.String("file", path))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// SignOnce reads the chain heads, signs them and writes the record,
// returning its path; when the heads are as in the last record this signer
// wrote it writes nothing and returns "" (the first call always writes).
func (s *HeadSigner) SignOnce(ctx context.Context) (path string, err error) {
	if err := s.check(); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	heads, err := readHeads(ctx, s.Pool)
	if err != nil {
		return "", err
	}
	if s.last != nil && slices.EqualFunc(heads, s.last, func(a, b Head) bool {
		return a.Chain == b.Chain && a.Seq == b.Seq && bytes.Equal(a.Hash, b.Hash)
	}) {
		return "", nil
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	r := SignedHeads{Format: HeadsFormat, Service: s.Service, Schema: s.Schema, SignedAt: now().UTC(), KeyID: s.Key.ID, Heads: heads}
	r.Signature = ed25519.Sign(s.Key.Private, r.message())
	path, err = publish(filepath.Join(s.Dir, s.folder()), &r)
	if err != nil {
		return "", err
	}
	s.last = heads
	return path, nil
}

func (s *HeadSigner) folder() string {
	if s.Schema != "" {
		return s.Schema
	}
	return s.Service
}

func (s *HeadSigner) check() error {
	f := s.folder()
	switch {
	case s.Pool == nil:
		return errors.New("audit: head signer: no pool")
	case s.Service == "":
		return errors.New("audit: head signer: no service")
	case f == "." || f == ".." || strings.ContainsAny(f, `/\`):
		return fmt.Errorf("audit: head signer: %q cannot name a folder", f)
	case len(s.Key.Private) != ed25519.PrivateKeySize || s.Key.ID == "":
		return errors.New("audit: head signer: no signing key")
	case s.Dir == "":
		return errors.New("audit: head signer: no directory")
	}
	return nil
}

func readHeads(ctx context.Context, q Querier) ([]Head, error) {
	rows, err := q.Query(ctx, `SELECT chain, seq, hash FROM audit_chains ORDER BY chain`)
	if err != nil {
		return nil, fmt.Errorf("audit: read heads: %w", err)
	}
	heads, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Head, error) {
		var h Head
		err := r.Scan(&h.Chain, &h.Seq, &h.Hash)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit: read heads: %w", err)
	}
	return heads, nil
}

// publish writes r into dir under its time's name: to a temporary file,
// flushed, then hard-linked to the name, which fails rather than replace a
// record already there (rename would replace it).
func publish(dir string, r *SignedHeads) (string, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", fmt.Errorf("audit: publish heads: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("audit: publish heads: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".heads-*.tmp")
	if err != nil {
		return "", fmt.Errorf("audit: publish heads: %w", err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone once linked; else a failed write's leftover
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("audit: publish heads: %w", err)
	}
	path := filepath.Join(dir, r.name())
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("audit: publish heads: %s exists; not replaced", path)
		}
		// A file system without hard links: rename, having checked that
		// no record has the name (a record is written once a tick, so no
		// other writer races for the same nanosecond).
		if _, serr := os.Lstat(path); !errors.Is(serr, fs.ErrNotExist) {
			return "", fmt.Errorf("audit: publish heads: %w", err)
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return "", fmt.Errorf("audit: publish heads: %w", err)
		}
	}
	if d, err := os.Open(dir); err == nil { // the new name itself durable
		_ = d.Sync()
		d.Close()
	}
	return path, nil
}

// LoadSigned reads the records in dir (one schema's folder of the heads
// directory), ordered by signing time.
func LoadSigned(dir string) ([]SignedHeads, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: load signed heads: %w", err)
	}
	var out []SignedHeads
	for _, e := range ents {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".json") {
			continue // subfolders, temporary files
		}
		path := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("audit: load signed heads: %w", err)
		}
		var r SignedHeads
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("audit: load signed heads: %s: %w", path, err)
		}
		r.File = path
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b SignedHeads) int {
		if c := a.SignedAt.Compare(b.SignedAt); c != 0 {
			return c
		}
		return strings.Compare(a.File, b.File)
	})
	return out, nil
}

// ErrSignature says a record of signed heads is not signed by a known key.
var ErrSignature = errors.New("audit: signed heads do not verify")

// Report is what VerifySigned found.
type Report struct {
	Records int // records checked
	Heads   int // signed heads compared with the log (chains not empty)
	// Latest is the newest record's signing time: entries written since
	// are not covered by a signature yet.
	Latest time.Time
	// Broken holds, for each chain that no longer matches, its first
	// signed head that does not, earliest first.
	Broken []Mismatch
}

// Mismatch is a signed head whose entry the log no longer has: the entry
// now at its position hashes otherwise, or the chain no longer reaches it.
type Mismatch struct {
	Chain    int16
	Position int64 // the signed head's position in the chain
	Seq      int64 // the log seq of the entry now at Position (0: none)
	Missing  bool  // the chain no longer reaches Position
	SignedAt time.Time
	File     string
	Signed   []byte // the signed hash
	Now      []byte // the entry's hash now (nil: Missing)
	// The change lies in the chain after position After, where an earlier
	// signed head (signed at AfterSignedAt) still matches (0 and the zero
	// time: none does; from the chain's first entry), up to Position.
	After         int64
	AfterSignedAt time.Time
}

func (m Mismatch) String() string {
	var what string
	if m.Missing {
		what = fmt.Sprintf("chain %d no longer reaches position %d", m.Chain, m.Position)
	} else {
		what = fmt.Sprintf("chain %d: entry %d (position %d) no longer has the hash signed (%s…, now %s…)", m.Chain, m.Seq, m.Position, short(m.Signed), short(m.Now))
	}
	since := "from the chain's first entry"
	if !m.AfterSignedAt.IsZero() {
		since = fmt.Sprintf("after position %d (signed %s, still matching)", m.After, m.AfterSignedAt.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s, signed %s in %s; the change lies %s up to position %d",
		what, m.SignedAt.UTC().Format(time.RFC3339), filepath.Base(m.File), since, m.Position)
}

// VerifySigned checks records (one schema's, as LoadSigned reads them) by
// keys, then that every signed head's position of its chain still holds an
// entry with the signed hash (that entry's own hash recomputed, too). A
// record with an unknown key or a bad signature gives ErrSignature naming
// its file; heads that no longer match give ErrBroken naming the first
// and fill Report.Broken. It means what it says together with [Verify],
// which shows the chain leads from its first entry to those heads.
func VerifySigned(ctx context.Context, q Querier, records []SignedHeads, keys map[string]ed25519.PublicKey) (Report, error) {
	var rep Report
	records = slices.Clone(records)
	slices.SortStableFunc(records, func(a, b SignedHeads) int { return a.SignedAt.Compare(b.SignedAt) })
	type key struct {
		chain int16
		pos   int64
	}
	want := map[key]bool{}
	for i := range records {
		r := &records[i]
		if err := r.verify(keys); err != nil {
			return rep, err
		}
		for _, h := range r.Heads {
			if h.Seq > 0 {
				want[key{h.Chain, h.Seq}] = true
			}
		}
		rep.Records++
		rep.Latest = r.SignedAt
	}

	// The entries at the signed positions, fetched in batches by the
	// chain's (chain, position) index.
	now := map[key]*Entry{}
	keysWanted := make([]key, 0, len(want))
	for k := range want {
		keysWanted = append(keysWanted, k)
	}
	for batch := range slices.Chunk(keysWanted, 5000) {
		chains, positions := make([]int16, len(batch)), make([]int64, len(batch))
		for i, k := range batch {
			chains[i], positions[i] = k.chain, k.pos
		}
		rows, err := q.Query(ctx, `SELECT `+columns+` FROM audit_log
			JOIN unnest($1::smallint[], $2::bigint[]) AS k(want_chain, want_pos)
			ON chain = k.want_chain AND coalesce(chain_seq, seq) = k.want_pos`, chains, positions)
		if err != nil {
			return rep, fmt.Errorf("audit.VerifySigned: %w", err)
		}
		entries, err := scan(rows)
		if err != nil {
			return rep, fmt.Errorf("audit.VerifySigned: %w", err)
		}
		for i := range entries {
			e := &entries[i]
			pos := e.ChainSeq
			if pos == 0 {
				pos = e.Seq
			}
			now[key{e.Chain, pos}] = e
		}
	}

	// Per chain, in time order, the first signed head that no longer
	// matches, and the highest earlier one below it that does.
	type matched struct {
		pos int64
		at  time.Time
	}
	good := map[int16][]matched{}
	broken := map[int16]bool{}
	for _, r := range records {
		for _, h := range r.Heads {
			if h.Seq <= 0 || broken[h.Chain] {
				continue
			}
			rep.Heads++
			e := now[key{h.Chain, h.Seq}]
			if e != nil && bytes.Equal(e.Hash, h.Hash) && bytes.Equal(hash(e.PrevHash, e), h.Hash) {
				good[h.Chain] = append(good[h.Chain], matched{h.Seq, r.SignedAt})
				continue
			}
			broken[h.Chain] = true
			m := Mismatch{Chain: h.Chain, Position: h.Seq, Missing: e == nil, SignedAt: r.SignedAt, File: r.File, Signed: h.Hash}
			if e != nil {
				m.Seq, m.Now = e.Seq, e.Hash
				if bytes.Equal(e.Hash, h.Hash) {
					m.Now = hash(e.PrevHash, e) // the stored hash kept, the entry changed
				}
			}
			for _, g := range good[h.Chain] {
				if g.pos < m.Position && g.pos >= m.After {
					m.After, m.AfterSignedAt = g.pos, g.at
				}
			}
			rep.Broken = append(rep.Broken, m)
		}
	}
	if len(rep.Broken) > 0 {
		more := ""
		if n := len(rep.Broken) - 1; n > 0 {
			more = fmt.Sprintf(" (and %d more chains)", n)
		}
		return rep, fmt.Errorf("%w: %s%s", ErrBroken, rep.Broken[0], more)
	}
	return rep, nil
}

// verify checks the record's form and signature.
func (r *SignedHeads) verify(keys map[string]ed25519.PublicKey) error {
	name := r.File
	if name == "" {
		name = "record signed " + r.SignedAt.UTC().Format(time.RFC3339Nano)
	}
	if r.Format != HeadsFormat {
		return fmt.Errorf("%w: %s: format %q, want %q", ErrSignature, name, r.Format, HeadsFormat)
	}
	seen := map[int16]bool{}
	for _, h := range r.Heads {
		if seen[h.Chain] || h.Seq < 0 {
			return fmt.Errorf("%w: %s: malformed heads", ErrSignature, name)
		}
		seen[h.Chain] = true
	}
	pub, ok := keys[r.KeyID]
	if !ok || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: %s: signed by unknown key %q", ErrSignature, name, r.KeyID)
	}
	if !ed25519.Verify(pub, r.message(), r.Signature) {
		return fmt.Errorf("%w: %s: bad signature (key %q)", ErrSignature, name, r.KeyID)
	}
	return nil
}

// NewSigningKey makes a fresh signing key "kid:base64-seed" (make run's and
// the tests' stacks; a county generates its own and keeps it in a Secret).
func NewSigningKey(kid string) string {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		panic(err)
	}
	return kid + ":" + base64.StdEncoding.EncodeToString(seed)
}
