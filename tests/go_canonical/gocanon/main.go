// Command go_canonical is the Go side of the go_canonical_diff_test differential test.
//
// It reads framed JSON documents from stdin and writes one framed result per document to
// stdout, canonicalizing each document exactly as the go-oversync server does (protocol.md
// §2.6): json.Unmarshal into `any` (numbers become float64), then json.Marshal.
//
// Input frame:  4-byte big-endian length N, then N bytes of (possibly invalid) JSON text.
// Output frame: 1 status byte ('O' ok / 'E' error), 4-byte big-endian length M, then M bytes:
//
//	the canonical JSON for 'O', the Go error message for 'E'.
//
// End of input (EOF exactly at a frame boundary) ends the program with exit status 0.
// A truncated frame is a fatal error (exit status 2). Standard library only.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

func canonicalize(doc []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func writeFrame(w *bufio.Writer, status byte, body []byte) error {
	var hdr [5]byte
	hdr[0] = status
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(body)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

func run(in io.Reader, out io.Writer) error {
	r := bufio.NewReaderSize(in, 1<<16)
	w := bufio.NewWriterSize(out, 1<<16)
	var lenBuf [4]byte
	for {
		if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
			if errors.Is(err, io.EOF) {
				break // clean end of input
			}
			return fmt.Errorf("reading frame length: %w", err)
		}
		n := binary.BigEndian.Uint32(lenBuf[:])
		doc := make([]byte, n)
		if _, err := io.ReadFull(r, doc); err != nil {
			return fmt.Errorf("reading frame body (%d bytes): %w", n, err)
		}
		canon, err := canonicalize(doc)
		if err != nil {
			err = writeFrame(w, 'E', []byte(err.Error()))
		} else {
			err = writeFrame(w, 'O', canon)
		}
		if err != nil {
			return fmt.Errorf("writing result: %w", err)
		}
	}
	return w.Flush()
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "go_canonical:", err)
		os.Exit(2)
	}
}
