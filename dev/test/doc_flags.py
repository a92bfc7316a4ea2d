#!/usr/bin/env python3
"""Every flag that an example in README.md or doc/*.md passes to one of our programs exists
in that program's -h output. An example is a code line (indented by 4 spaces) or an inline
`code span` that runs ./train_gpt2, ./train_gpt2cu, ./eval_gpt2, ./bsz or ./tokenizer
(also after mpirun, and the trainer flags after `--` of scripts/run_multi_*.sh, and make
train's TRAIN_FLAGS). train_gpt2cu has train_gpt2's flags (llmc/train_args.h).
   usage: doc_flags.py FILE.md...   (exit 1 listing each unknown flag with file and line)"""
import re, shlex, subprocess, sys

PROGRAMS = {'train_gpt2': './train_gpt2', 'train_gpt2cu': './train_gpt2', 'eval_gpt2': './eval_gpt2',
            'bsz': './bsz', 'tokenizer': './tokenizer'}
help_text = {}
def known(prog, flag):
    if prog not in help_text:
        out = subprocess.run([PROGRAMS[prog], '-h'], capture_output=True, text=True)
        help_text[prog] = out.stdout + out.stderr
    return re.search(r'(?<![\w-])' + re.escape(flag) + r'(?![\w-])', help_text[prog]) is not None

def flags_of(words):
    """the flags among the words of one command, up to a shell operator or comment"""
    out = []
    for w in words:
        if w in ('|', '&&', ';', '>', '<', '2>', '||') or w.startswith('#') or w.startswith('>'):
            break
        if re.fullmatch(r'--?[A-Za-z][\w-]*', w):
            out.append(w)
    return out

def commands(text):
    """(program, flags) for each of our programs that the text runs"""
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        words = text.split()
    found = []
    for i, w in enumerate(words):
        base = w.rsplit('/', 1)[-1]
        if w.startswith('./') and base in PROGRAMS:
            found.append((base, flags_of(words[i + 1:])))
        elif w.startswith('scripts/run_multi_') and '--' in words[i + 1:]:
            j = words.index('--', i + 1)
            found.append(('train_gpt2', flags_of(words[j + 1:])))
        elif w.startswith('TRAIN_FLAGS='):
            found.append(('train_gpt2', flags_of(shlex.split(w[len('TRAIN_FLAGS='):]))))
    return found

bad, checked = [], 0
for path in sys.argv[1:]:
    for n, line in enumerate(open(path, encoding='utf-8'), 1):
        pieces = [line[4:]] if line.startswith('    ') else re.findall(r'`([^`]+)`', line)
        for piece in pieces:
            for prog, flags in commands(piece):
                for f in flags:
                    checked += 1
                    if not known(prog, f):
                        bad.append('%s:%d: %s has no flag %s (%s -h)' % (path, n, prog, f, PROGRAMS[prog]))
for b in bad:
    print(b)
print('%d flags in examples checked, %d unknown' % (checked, len(bad)))
sys.exit(1 if bad or checked == 0 else 0)
