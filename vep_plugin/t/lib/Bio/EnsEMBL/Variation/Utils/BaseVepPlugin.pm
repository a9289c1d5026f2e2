package Bio::EnsEMBL::Variation::Utils::BaseVepPlugin;

# Test stand-in, used only where ensembl-variation is not on @INC (the tests put t/lib last):
# the few methods of the real base class that SeqScore.pm and VEP's OutputFactory call.

use strict;
use warnings;

sub new {
  my ($class, $config, @params) = @_;
  return bless { config => $config, params => \@params, feature_types => ['Transcript'],
                 variant_feature_types => ['VariationFeature'] }, $class;
}

sub params { return $_[0]{params} || [] }
sub config { return $_[0]{config} }

sub params_to_hash {
  my $self = shift;
  my %h;
  for my $p (@{ $self->params }) {
    my ($k, $v) = split /=/, $p;
    die "ERROR: Failed to parse parameter $p\n" unless defined $k && defined $v;
    $h{$k} = $v;
  }
  return \%h;
}

sub feature_types { return $_[0]{feature_types} }
sub variant_feature_types { return $_[0]{variant_feature_types} }
sub get_header_info { return undef }

1;
