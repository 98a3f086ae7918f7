package app

import (
	"bytes"
	"errors"
	"fmt"
	"os"
)

// SecretKey reads the Room Engine secret key from secret_key_env or
// secret_key_file (one trailing newline trimmed). The warning, if not
// empty, is for the log: a key file readable by group or others. In dry
// run without a key source it returns no key and no error.
func (c *Config) SecretKey() (key []byte, warning string, err error) {
	r := c.RoomEngine
	switch {
	case r.SecretKeyEnv != "":
		v := os.Getenv(r.SecretKeyEnv)
		if v == "" {
			return nil, "", fmt.Errorf("roomengine.secret_key_env: environment variable %s is empty or unset", r.SecretKeyEnv)
		}
		return []byte(v), "", nil
	case r.SecretKeyFile != "":
		return readKeyFile(r.SecretKeyFile)
	}
	if c.DryRun {
		return nil, "", nil
	}
	return nil, "", errors.New("roomengine: no secret key source: set secret_key_env or secret_key_file")
}

func readKeyFile(path string) ([]byte, string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("roomengine.secret_key_file: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("roomengine.secret_key_file: %w", err)
	}
	key := bytes.TrimSuffix(bytes.TrimSuffix(data, []byte("\n")), []byte("\r"))
	if len(key) == 0 {
		return nil, "", fmt.Errorf("roomengine.secret_key_file: %s is empty", path)
	}
	var warning string
	if perm := fi.Mode().Perm(); perm&0o044 != 0 {
		warning = fmt.Sprintf("roomengine.secret_key_file %s is readable by group or others (mode %04o): run chmod 600 on it", path, perm)
	}
	return key, warning, nil
}
