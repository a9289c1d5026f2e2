package SeqScoreTest::VEP;

# Minimal stand-ins for the VEP objects SeqScore.pm touches, for tests that run without
# Ensembl code: a VariationFeature built from a VCF record the way VEP's VCF parser trims it,
# a TranscriptVariationAllele, an InputBuffer and an OutputFactory that calls the plugin once
# per transcript-allele, inside an eval, as VEP's run_plugins does.

use strict;
use warnings;
use Exporter 'import';
our @EXPORT_OK = qw(vf_from_vcf tva run_buffer);

# VEP trims the first base when it is shared by REF and every ALT of an indel record.
sub vf_from_vcf {
  my ($chrom, $pos, $ref, $alts, %opt) = @_;
  my @alts = @$alts;
  my $is_indel = grep { length($_) != length($ref) } @alts;
  my ($start, $r, @a) = ($pos, $ref, @alts);
  if ($is_indel) {
    my %first = map { substr($_, 0, 1) => 1 } ($ref, @alts);
    if (keys %first == 1) {
      $start++;
      $r = substr($ref, 1) || '-';
      @a = map { substr($_, 1) || '-' } @alts;
    }
  }
  my $end = $pos + length($ref) - 1;
  return bless {
    chr => $chrom, start => $start, end => $end, strand => 1,
    allele_string => join('/', $r, @a),
    ($opt{no_line} ? () : (_line => [$chrom, $pos, '.', $ref, join(',', @alts), '.', '.', '.'])),
    _n_transcripts => defined $opt{transcripts} ? $opt{transcripts} : 1,
    ($opt{slice} ? (slice => $opt{slice}) : ()),
  }, 'SeqScoreTest::VariationFeature';
}

# One TranscriptVariationAllele per ALT allele and gene: a gene symbol, or {symbol => S, id => ID}
# for a transcript whose gene has a stable ID too (VEP's _gene_stable_id).
sub tva {
  my ($vf, $allele_index, $gene) = @_;
  my @alleles = split m{/}, $vf->{allele_string};
  my %tr = ref $gene ? (_gene_symbol => $gene->{symbol}, _gene_stable_id => $gene->{id}) : (_gene_symbol => $gene);
  return bless { vf => $vf, seq => $alleles[$allele_index], allele_number => $allele_index,
                 transcript => \%tr }, 'SeqScoreTest::TranscriptVariationAllele';
}

# Runs the plugin (or several: an arrayref, as several --plugin lines, each called in turn on
# every transcript-allele) over a buffer of [vf, [genes]] pairs (genes as tva takes them);
# returns the output hashes in order, each with Allele, SYMBOL, Gene (the stable ID), Location.
sub run_buffer {
  my ($plugin, $items, %opt) = @_;
  my %symbols = map { ("$_->[0]" => $_->[1]) } @$items;
  my $of = SeqScoreTest::OutputFactory->new($plugin);
  return $of->lines_without_buffer([ map { $_->[0] } @$items ], \%symbols) if $opt{no_buffer_hook};
  my $buffer = SeqScoreTest::InputBuffer->new([ map { $_->[0] } @$items ]);
  $buffer->{_symbols} = \%symbols;
  return $of->get_all_output_hashes_by_InputBuffer($buffer);
}

package SeqScoreTest::VariationFeature;
sub allele_string { return $_[0]{allele_string} }
sub get_all_TranscriptVariations { return [ (1) x $_[0]{_n_transcripts} ] }
sub slice { return $_[0]{slice} }

package SeqScoreTest::Slice;   # a whole-contig slice over a string
sub new { my ($class, $seq) = @_; return bless { seq => $seq }, $class }
sub start { return 1 }
sub subseq { my ($self, $s, $e) = @_; return substr($self->{seq}, $s - 1, $e - $s + 1) }

package SeqScoreTest::TranscriptVariationAllele;
sub base_variation_feature { return $_[0]{vf} }
sub variation_feature_seq { return $_[0]{seq} }
sub allele_number { return $_[0]{allele_number} }
sub transcript { return $_[0]{transcript} }

package SeqScoreTest::InputBuffer;
sub new { my ($class, $vfs) = @_; return bless { buffer => $vfs }, $class }
sub buffer { return $_[0]{buffer} }

package SeqScoreTest::OutputFactory;
sub new {
  my ($class, $plugin) = @_;
  return bless { plugins => (ref $plugin eq 'ARRAY' ? $plugin : [$plugin]), warnings => [] }, $class;
}

# Same call shape as VEP's OutputFactory: the buffer is the second argument of this frame.
sub get_all_output_hashes_by_InputBuffer {
  my $self = shift;
  my $buffer = shift;
  return [ map { @{ $self->_hashes_for_vf($_, $buffer) } } @{ $buffer->buffer } ];
}

# The same work from a frame that does not carry the buffer: the plugin must fall back.
sub lines_without_buffer {
  my ($self, $vfs, $symbols) = @_;
  my $plain = { _symbols => $symbols };
  return [ map { @{ $self->_hashes_for_vf($_, $plain) } } @$vfs ];
}

sub _hashes_for_vf {
  my ($self, $vf, $buffer) = @_;
  my @out;
  my @alleles = split m{/}, $vf->{allele_string};
  for my $i (1 .. $#alleles) {
    for my $gene (@{ $buffer->{_symbols}{"$vf"} || [] }) {
      my $line = { Allele => $alleles[$i], SYMBOL => (ref $gene ? $gene->{symbol} : $gene),
                   (ref $gene ? (Gene => $gene->{id}) : ()), Location => "$vf->{chr}:$vf->{start}", _vf => $vf };
      for my $plugin (@{ $self->{plugins} }) {
        my $res = eval { $plugin->run(SeqScoreTest::VEP::tva($vf, $i, $gene), $line) };
        if ($@) { push @{ $self->{warnings} }, $@ }
        elsif ($res) { %$line = (%$line, %$res) }
      }
      push @out, $line;
    }
  }
  return \@out;
}

1;
