package SeqScoreTest::VEP;

# Minimal stand-ins for the VEP objects SeqScore.pm touches, for tests that run without
# Ensembl code: a VariationFeature built from a VCF record the way VEP's VCF parser trims it,
# a TranscriptVariationAllele, an InputBuffer and an OutputFactory that calls the plugin once
# per transcript-allele, inside an eval, as VEP's run_plugins does.

use strict;
use warnings;
use Exporter 'import';
our @EXPORT_OK = qw(vf_from_vcf svf_from_vcf tva run_buffer);

# VEP trims the first base when it is shared by REF and every ALT of an indel record; a '*'
# ALT takes no part in that and is kept as it is (Parser::VCF).
sub vf_from_vcf {
  my ($chrom, $pos, $ref, $alts, %opt) = @_;
  my @alts = @$alts;
  my $is_indel = grep { length($_) != length($ref) } @alts;
  my ($start, $r, @a) = ($pos, $ref, @alts);
  if ($is_indel) {
    my %first = map { substr($_, 0, 1) => 1 } grep { !/\*/ } ($ref, @alts);
    if (keys %first == 1) {
      $start++;
      $r = substr($ref, 1) || '-';
      @a = map { /\*/ ? $_ : substr($_, 1) || '-' } @alts;
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

# A structural variant as VEP's VCF parser makes one from a symbolic ALT (<DEL>, <DUP>, ...):
# allele_string is the ALT, class_SO_term its type, start/end from POS and END.
sub svf_from_vcf {
  my ($chrom, $pos, $end, $alt, $class) = @_;
  return bless { chr => $chrom, start => $pos + 1, end => $end, strand => 1, allele_string => $alt,
                 class_SO_term => $class, _line => [$chrom, $pos, '.', 'N', $alt, '.', '.', "END=$end"] },
               'SeqScoreTest::StructuralVariationFeature';
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

package SeqScoreTest::StructuralVariationFeature;   # the name VEP's check matches: ...StructuralVariationFeature
sub allele_string { return $_[0]{allele_string} }
sub class_SO_term { return $_[0]{class_SO_term} }

package SeqScoreTest::StructuralVariationOverlapAllele;
sub base_variation_feature { return $_[0]{svf} }
sub symbolic_allele { return $_[0]{svf}{allele_string} }
sub transcript { return $_[0]{transcript} }

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

# As VEP's run_plugins: a plugin runs only on the variant feature types it declares (a
# VariationFeature, a StructuralVariationFeature).
sub _wants {
  my ($plugin, $vf) = @_;
  my $types = $plugin->can('variant_feature_types') ? $plugin->variant_feature_types : ['VariationFeature'];
  return scalar grep { ref($vf) =~ /(?:^|::)$_$/ } @$types;
}

sub _hashes_for_vf {
  my ($self, $vf, $buffer) = @_;
  my @out;
  my $sv = ref($vf) =~ /StructuralVariationFeature$/;
  my @alleles = $sv ? ('', $vf->{allele_string}) : split m{/}, $vf->{allele_string};
  for my $i (1 .. $#alleles) {
    for my $gene (@{ $buffer->{_symbols}{"$vf"} || [] }) {
      my $line = { Allele => $alleles[$i], SYMBOL => (ref $gene ? $gene->{symbol} : $gene),
                   (ref $gene ? (Gene => $gene->{id}) : ()), Location => "$vf->{chr}:$vf->{start}", _vf => $vf };
      my $tva = SeqScoreTest::VEP::tva($vf, $i, $gene);
      $tva = bless { svf => $vf, transcript => $tva->{transcript} }, 'SeqScoreTest::StructuralVariationOverlapAllele' if $sv;
      for my $plugin (@{ $self->{plugins} }) {
        next unless _wants($plugin, $vf);
        my $res = eval { $plugin->run($tva, $line) };
        if ($@) { push @{ $self->{warnings} }, $@ }
        elsif ($res) { %$line = (%$line, %$res) }
      }
      push @out, $line;
    }
  }
  return \@out;
}

1;
